//! One open named pipe: the connection-oriented DCE/RPC state machine over
//! the bytes of SMB2 WRITE / READ / FSCTL_PIPE_TRANSCEIVE.
//!
//! Input is cut into PDUs by the header's frag_length (a PDU may arrive in
//! pieces, or several in one write); at most one fragment (64 KiB) is ever
//! buffered, and a fragmented request at most [`MAX_REQUEST`] bytes. Every
//! answer is queued as whole PDUs; a read returns bytes of one PDU only,
//! as a message-mode pipe does.
//!
//! What the pipe answers (C706 chapter 12, MS-RPCE 3.3.1.5, following what
//! Samba 4.17 does where the specifications leave room):
//! - BIND: BIND_ACK with one result per proposed context: acceptance for
//!   our interface with NDR 2.0; provider rejection "abstract syntax not
//!   supported" for any other interface and "proposed transfer syntaxes
//!   not supported" when NDR 2.0 is not offered (NDR64); negotiate-ack for
//!   bind time feature negotiation, granting the known features offered.
//!   BIND_NAK, and no more input, for a second BIND, a data representation
//!   other than little-endian ASCII IEEE, an RPC version other than 5.0/5.1,
//!   an auth verifier (only authentication level none is served), no
//!   contexts, or a context without transfer syntaxes.
//! - ALTER_CONTEXT: ALTER_CONTEXT_RESP, negotiated the same way.
//! - REQUEST: RESPONSE fragments of at most the negotiated size; FAULT
//!   nca_op_rng_error for an unknown opnum, nca_unk_if for an unknown
//!   context, nca_s_fault_ndr for a stub that does not decode (the pipe
//!   stays usable after these three). FAULT and no more input for
//!   authenticated requests, fragments out of sequence or over
//!   [`MAX_FRAG`], and requests over [`MAX_REQUEST`].
//! - CO_CANCEL is ignored (calls finish at once); ORPHANED drops the
//!   fragments of that call; any other PDU type gets FAULT nca_proto_error
//!   and no more input.
//!
//! A header that cannot be framed (frag_length shorter than the header or
//! than the auth verifier, an RPC version other than 5 outside a BIND) is
//! an error of [`Pipe::write`], after which the pipe takes no input.

use std::collections::VecDeque;

use super::pdu::{
    Bind, BindAck, BindNak, ContextElement, ContextResult, Fault, Frame, HEADER_LEN, Header, NDR20,
    PacketType, ProviderReason, REQUEST_HEADER_LEN, RejectReason, Request, Response, check_lengths,
    emit_pdu, pfc,
};
use super::{FaultStatus, PipeError, RpcSnapshot, srvsvc, wkssvc};

/// The largest fragment we send, and take in a REQUEST: what Windows and
/// Samba use on SMB named pipes.
pub const MAX_FRAG: u16 = 4280;

/// The smallest fragment size we negotiate down to (Windows' floor, as
/// Samba measured it).
pub const MIN_FRAG: u16 = 2048;

/// The largest request stub we reassemble from fragments (Samba's limit).
pub const MAX_REQUEST: usize = 4 << 20;

/// Replies we keep for a client that does not read them before refusing
/// more input.
pub const MAX_PENDING_OUTPUT: usize = 8 << 20;

/// Presentation contexts one pipe keeps.
pub const MAX_CONTEXTS: usize = 64;

/// The association group we report when the client asks for a new one.
/// Each pipe is its own association (nothing is shared between pipes), so
/// one constant serves them all.
pub const ASSOC_GROUP_ID: u32 = 0x0000_53f0;

/// The alloc_hint of a FAULT, as Samba sends it.
const FAULT_ALLOC_HINT: u32 = 24;

/// The interfaces we serve, one per pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interface {
    Srvsvc,
    Wkssvc,
}

impl Interface {
    /// `srvsvc`, `\PIPE\srvsvc`, `\srvsvc`, in any case.
    fn from_pipe_name(name: &str) -> Option<Interface> {
        let name = name.trim_start_matches(['\\', '/']);
        let name = match name.get(..5) {
            Some(prefix)
                if prefix.eq_ignore_ascii_case("pipe\\")
                    || prefix.eq_ignore_ascii_case("pipe/") =>
            {
                name.get(5..).unwrap_or_default()
            }
            _ => name,
        };
        if name.eq_ignore_ascii_case("srvsvc") {
            Some(Interface::Srvsvc)
        } else if name.eq_ignore_ascii_case("wkssvc") {
            Some(Interface::Wkssvc)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Interface::Srvsvc => "srvsvc",
            Interface::Wkssvc => "wkssvc",
        }
    }

    fn syntax(self) -> super::pdu::SyntaxId {
        match self {
            Interface::Srvsvc => srvsvc::SYNTAX,
            Interface::Wkssvc => wkssvc::SYNTAX,
        }
    }

    /// The BIND_ACK secondary address (Windows spells it this way; Samba
    /// sends `\pipe\srvsvc`).
    fn secondary_address(self) -> &'static str {
        match self {
            Interface::Srvsvc => "\\PIPE\\srvsvc",
            Interface::Wkssvc => "\\PIPE\\wkssvc",
        }
    }

    fn call(self, snapshot: &RpcSnapshot, opnum: u16, stub: &[u8]) -> Result<Vec<u8>, FaultStatus> {
        match self {
            Interface::Srvsvc => srvsvc::call(snapshot, opnum, stub),
            Interface::Wkssvc => wkssvc::call(snapshot, opnum, stub),
        }
    }
}

/// What an SMB2 READ gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadOut {
    pub data: Vec<u8>,
    /// The PDU did not fit: the front end answers STATUS_BUFFER_OVERFLOW
    /// and the client reads the rest with further READs.
    pub more: bool,
}

/// The fragments of a request received so far.
#[derive(Debug)]
struct Assembly {
    call_id: u32,
    context_id: u16,
    opnum: u16,
    stub: Vec<u8>,
}

/// One open named pipe.
#[derive(Debug)]
pub struct Pipe {
    iface: Interface,
    snapshot: RpcSnapshot,
    /// Bytes of the PDU being received: never more than one fragment.
    input: Vec<u8>,
    /// Its frag_length, once its header is in.
    frag_length: Option<usize>,
    /// Whole PDUs waiting to be read; `read_pos` bytes of the first are gone.
    output: VecDeque<Vec<u8>>,
    read_pos: usize,
    output_bytes: usize,
    bound: bool,
    /// Why the pipe stopped taking input.
    closed: Option<&'static str>,
    max_xmit_frag: u16,
    max_recv_frag: u16,
    assoc_group_id: u32,
    /// Accepted presentation context ids (all for `iface`).
    contexts: Vec<u16>,
    /// Bind time features granted.
    features: u16,
    assembly: Option<Assembly>,
}

impl Pipe {
    /// `name` as the client opened it on IPC$ ("srvsvc", "\\PIPE\\srvsvc",
    /// in any case); `None` for pipes we do not serve.
    pub fn open(name: &str, snapshot: RpcSnapshot) -> Option<Pipe> {
        let iface = Interface::from_pipe_name(name)?;
        Some(Pipe {
            iface,
            snapshot,
            input: Vec::new(),
            frag_length: None,
            output: VecDeque::new(),
            read_pos: 0,
            output_bytes: 0,
            bound: false,
            closed: None,
            max_xmit_frag: MAX_FRAG,
            max_recv_frag: MAX_FRAG,
            assoc_group_id: 0,
            contexts: Vec::new(),
            features: 0,
            assembly: None,
        })
    }

    /// The pipe's name without `\PIPE\`: `srvsvc` or `wkssvc`.
    pub fn name(&self) -> &'static str {
        self.iface.name()
    }

    /// Bytes of replies waiting to be read.
    pub fn pending(&self) -> usize {
        self.output_bytes - self.read_pos
    }

    /// The fragment size negotiated by BIND (4280 before one).
    pub fn max_xmit_frag(&self) -> u16 {
        self.max_xmit_frag
    }

    /// Whether the pipe stopped taking input after a protocol error; the
    /// front end may close it once [`Pipe::pending`] is 0.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// SMB2 WRITE on the pipe: bytes of one or more PDUs, split anywhere.
    /// Returns how many bytes were taken (all of them).
    pub fn write(&mut self, data: &[u8]) -> Result<usize, PipeError> {
        if let Some(why) = self.closed {
            return Err(PipeError::Closed(why));
        }
        let mut rest = data;
        while !rest.is_empty() {
            let want = self.frag_length.unwrap_or(HEADER_LEN);
            let n = want.saturating_sub(self.input.len()).min(rest.len());
            let (head, tail) = rest.split_at(n);
            self.input.extend_from_slice(head);
            rest = tail;
            if self.frag_length.is_none() && self.input.len() == HEADER_LEN {
                match self.frame_header() {
                    Ok(len) => self.frag_length = Some(len),
                    Err(e) => {
                        tracing::info!(target: "smbd::dcerpc", pipe = self.name(), user = %self.snapshot.user,
                            "closing the pipe: {e}");
                        self.close("malformed PDU header");
                        return Err(e);
                    }
                }
            }
            if self.frag_length == Some(self.input.len()) {
                // Checked per PDU: one write may hold thousands of small
                // requests with large answers.
                if self.output_bytes > MAX_PENDING_OUTPUT {
                    let pending = self.pending();
                    tracing::info!(target: "smbd::dcerpc", pipe = self.name(), user = %self.snapshot.user,
                        pending, "closing the pipe: the client does not read the replies");
                    self.close("replies are not being read");
                    return Err(PipeError::Backlog(pending));
                }
                let pdu = std::mem::take(&mut self.input);
                self.frag_length = None;
                self.process(&pdu);
                if self.closed.is_some() {
                    // Like Samba, nothing after a fatal error is looked at.
                    break;
                }
            }
        }
        Ok(data.len())
    }

    /// SMB2 READ on the pipe: up to `max` bytes of the next reply PDU.
    pub fn read(&mut self, max: usize) -> ReadOut {
        let Some(front) = self.output.front() else {
            return ReadOut::default();
        };
        let rest = front.get(self.read_pos..).unwrap_or_default();
        let (data, left) = rest.split_at(rest.len().min(max));
        let out = ReadOut {
            data: data.to_vec(),
            more: !left.is_empty(),
        };
        self.read_pos += out.data.len();
        if left.is_empty() {
            self.output_bytes -= front.len();
            self.read_pos = 0;
            self.output.pop_front();
        }
        out
    }

    /// FSCTL_PIPE_TRANSCEIVE: write `input`, then read up to `max_out`
    /// (replies still unread from earlier writes come first).
    pub fn transceive(&mut self, input: &[u8], max_out: usize) -> Result<ReadOut, PipeError> {
        self.write(input)?;
        Ok(self.read(max_out))
    }

    /// The frag_length of the PDU whose header is in `input`, if it can be
    /// framed at all.
    fn frame_header(&self) -> Result<usize, PipeError> {
        let h = Header::parse(&self.input)?;
        if (h.rpc_vers != 5 || h.rpc_vers_minor > 1) && h.ptype != PacketType::BIND {
            return Err(PipeError::Invalid {
                what: "rpc_vers",
                value: (u64::from(h.rpc_vers) << 8) | u64::from(h.rpc_vers_minor),
            });
        }
        check_lengths(&h)?;
        Ok(usize::from(h.frag_length))
    }

    fn process(&mut self, pdu: &[u8]) {
        let frame = match Frame::parse(pdu) {
            Ok(frame) => frame,
            Err(e) => {
                // frame_header() checked all this; keep the pipe safe anyway.
                tracing::info!(target: "smbd::dcerpc", pipe = self.name(), "closing the pipe: {e}");
                self.close("malformed PDU");
                return;
            }
        };
        let h = frame.header;
        match h.ptype {
            PacketType::BIND => self.on_bind(&frame),
            PacketType::ALTER_CONTEXT => self.on_alter_context(&frame),
            PacketType::REQUEST => self.on_request(&frame),
            PacketType::CO_CANCEL => {}
            PacketType::ORPHANED => {
                if self
                    .assembly
                    .as_ref()
                    .is_some_and(|a| a.call_id == h.call_id)
                {
                    self.assembly = None;
                }
            }
            _ => self.fault_close(
                h.call_id,
                0,
                FaultStatus::PROTO_ERROR,
                pfc::DID_NOT_EXECUTE,
                "a PDU type a client does not send",
            ),
        }
    }

    fn on_bind(&mut self, frame: &Frame<'_>) {
        let h = frame.header;
        if self.bound {
            return self.nak_close(h.call_id, RejectReason::NOT_SPECIFIED, "a second BIND");
        }
        if h.rpc_vers != 5 || h.rpc_vers_minor > 1 {
            return self.nak_close(
                h.call_id,
                RejectReason::PROTOCOL_VERSION_NOT_SUPPORTED,
                "an RPC version other than 5.0",
            );
        }
        if !h.drep_supported() {
            return self.nak_close(
                h.call_id,
                RejectReason::NOT_SPECIFIED,
                "a data representation other than little-endian ASCII IEEE",
            );
        }
        if h.auth_length != 0 {
            return self.nak_close(
                h.call_id,
                RejectReason::AUTHENTICATION_TYPE_NOT_RECOGNIZED,
                "an authenticated BIND (only authentication level none is served)",
            );
        }
        let bind = match Bind::parse(frame.body) {
            Ok(bind) => bind,
            Err(e) => {
                tracing::info!(target: "smbd::dcerpc", pipe = self.name(), "BIND does not decode: {e}");
                return self.nak_close(h.call_id, RejectReason::NOT_SPECIFIED, "a malformed BIND");
            }
        };
        let results = match self.negotiate(&bind.contexts, true) {
            Ok(results) => results,
            Err(why) => return self.nak_close(h.call_id, RejectReason::NOT_SPECIFIED, why),
        };
        // Both directions get the same size, at most ours, at least 2048,
        // a multiple of 8 (Samba, matching Windows).
        let asked = bind.max_xmit_frag.min(bind.max_recv_frag).max(MIN_FRAG);
        let frag = asked.min(MAX_FRAG) & !7;
        self.max_xmit_frag = frag;
        self.max_recv_frag = frag;
        // We keep no state across pipes, so a client joining an existing
        // group gets its id back rather than a refusal.
        self.assoc_group_id = if bind.assoc_group_id != 0 {
            bind.assoc_group_id
        } else {
            ASSOC_GROUP_ID
        };
        self.bound = true;
        tracing::debug!(target: "smbd::dcerpc", pipe = self.name(), user = %self.snapshot.user,
            frag, contexts = ?self.contexts, features = self.features, "bound");
        let ack = BindAck {
            max_xmit_frag: frag,
            max_recv_frag: frag,
            assoc_group_id: self.assoc_group_id,
            secondary_address: self.iface.secondary_address().to_string(),
            results,
        };
        self.push(
            PacketType::BIND_ACK,
            pfc::FIRST_FRAG | pfc::LAST_FRAG,
            h.call_id,
            &ack.emit(),
        );
    }

    fn on_alter_context(&mut self, frame: &Frame<'_>) {
        let h = frame.header;
        let fail = |pipe: &mut Pipe, status, why| {
            pipe.fault_close(h.call_id, 0, status, pfc::DID_NOT_EXECUTE, why)
        };
        if !self.bound {
            return fail(self, FaultStatus::PROTO_ERROR, "ALTER_CONTEXT before BIND");
        }
        if !h.drep_supported() {
            return fail(
                self,
                FaultStatus::PROTO_ERROR,
                "a data representation other than little-endian ASCII IEEE",
            );
        }
        if h.auth_length != 0 {
            return fail(
                self,
                FaultStatus::SEC_PKG_ERROR,
                "an authenticated ALTER_CONTEXT (only authentication level none is served)",
            );
        }
        let alter = match Bind::parse(frame.body) {
            Ok(alter) => alter,
            Err(e) => {
                tracing::info!(target: "smbd::dcerpc", pipe = self.name(), "ALTER_CONTEXT does not decode: {e}");
                return fail(self, FaultStatus::PROTO_ERROR, "a malformed ALTER_CONTEXT");
            }
        };
        let results = match self.negotiate(&alter.contexts, false) {
            Ok(results) => results,
            Err(why) => return fail(self, FaultStatus::PROTO_ERROR, why),
        };
        let resp = BindAck {
            max_xmit_frag: self.max_xmit_frag,
            max_recv_frag: self.max_recv_frag,
            assoc_group_id: self.assoc_group_id,
            secondary_address: String::new(),
            results,
        };
        self.push(
            PacketType::ALTER_CONTEXT_RESP,
            pfc::FIRST_FRAG | pfc::LAST_FRAG,
            h.call_id,
            &resp.emit(),
        );
    }

    /// One result per proposed context, adding the accepted ones. Errors
    /// say why the whole BIND / ALTER_CONTEXT is refused.
    fn negotiate(
        &mut self,
        proposed: &[ContextElement],
        in_bind: bool,
    ) -> Result<Vec<ContextResult>, &'static str> {
        if proposed.is_empty() {
            return Err("no presentation contexts");
        }
        if proposed.iter().any(|c| c.transfer_syntaxes.is_empty()) {
            return Err("a presentation context without transfer syntaxes");
        }
        // Only the first transfer syntax makes a context a bind time
        // feature negotiation (as in Samba), and only one is allowed.
        let features = |c: &ContextElement| {
            c.transfer_syntaxes
                .first()
                .and_then(|t| t.bind_time_features())
                .filter(|_| in_bind)
        };
        if proposed.iter().filter(|c| features(c).is_some()).count() > 1 {
            return Err("more than one bind time feature negotiation");
        }
        let mut results = Vec::with_capacity(proposed.len());
        for c in proposed {
            let result = if let Some(offered) = features(c) {
                let granted =
                    u16::try_from(offered & super::pdu::BIND_TIME_FEATURES_KNOWN).unwrap_or(0);
                self.features = granted;
                ContextResult::NegotiateAck(granted)
            } else if c.abstract_syntax != self.iface.syntax() {
                ContextResult::ProviderRejection(ProviderReason::ABSTRACT_SYNTAX_NOT_SUPPORTED)
            } else if !c.transfer_syntaxes.contains(&NDR20) {
                ContextResult::ProviderRejection(
                    ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED,
                )
            } else if self.contexts.contains(&c.context_id) {
                ContextResult::Acceptance(NDR20)
            } else if self.contexts.len() >= MAX_CONTEXTS {
                ContextResult::ProviderRejection(ProviderReason::LOCAL_LIMIT_EXCEEDED)
            } else {
                self.contexts.push(c.context_id);
                ContextResult::Acceptance(NDR20)
            };
            results.push(result);
        }
        Ok(results)
    }

    fn on_request(&mut self, frame: &Frame<'_>) {
        let h = frame.header;
        if !h.drep_supported() {
            return self.fault_close(
                h.call_id,
                0,
                FaultStatus::PROTO_ERROR,
                0,
                "a data representation other than little-endian ASCII IEEE",
            );
        }
        if h.auth_length != 0 {
            return self.fault_close(
                h.call_id,
                0,
                FaultStatus::SEC_PKG_ERROR,
                0,
                "an authenticated REQUEST (only authentication level none is served)",
            );
        }
        let req = match Request::parse(h.pfc_flags, frame.body) {
            Ok(req) => req,
            Err(e) => {
                tracing::info!(target: "smbd::dcerpc", pipe = self.name(), "REQUEST does not decode: {e}");
                return self.fault_close(
                    h.call_id,
                    0,
                    FaultStatus::PROTO_ERROR,
                    0,
                    "a malformed REQUEST",
                );
            }
        };
        // Like Samba, against the transport's size rather than the one
        // negotiated, which some clients exceed.
        if h.frag_length > MAX_FRAG {
            return self.fault_close(
                h.call_id,
                req.context_id,
                FaultStatus::PROTO_ERROR,
                0,
                "a request fragment over 4280 bytes",
            );
        }
        let first = h.pfc_flags & pfc::FIRST_FRAG != 0;
        let last = h.pfc_flags & pfc::LAST_FRAG != 0;
        match self.assembly.take() {
            Some(a) if first => self.fault_close(
                a.call_id,
                a.context_id,
                FaultStatus::PROTO_ERROR,
                0,
                "a new call while a fragmented one is incomplete",
            ),
            Some(a) if a.call_id != h.call_id => self.fault_close(
                a.call_id,
                a.context_id,
                FaultStatus::PROTO_ERROR,
                0,
                "a fragment of another call",
            ),
            Some(mut a) => {
                if a.stub.len() + req.stub.len() > MAX_REQUEST {
                    return self.fault_close(
                        a.call_id,
                        a.context_id,
                        FaultStatus::ACCESS_DENIED,
                        0,
                        "a request over 4 MiB",
                    );
                }
                a.stub.extend_from_slice(req.stub);
                if last {
                    self.dispatch(a.call_id, a.context_id, a.opnum, &a.stub);
                } else {
                    self.assembly = Some(a);
                }
            }
            None if !first => self.fault_close(
                h.call_id,
                req.context_id,
                FaultStatus::PROTO_ERROR,
                0,
                "a fragment without a first one",
            ),
            None => {
                if !self.contexts.contains(&req.context_id) {
                    tracing::debug!(target: "smbd::dcerpc", pipe = self.name(), context = req.context_id,
                        "request on a context that was not negotiated");
                    return self.push_fault(
                        h.call_id,
                        req.context_id,
                        FaultStatus::UNK_IF,
                        pfc::DID_NOT_EXECUTE,
                    );
                }
                if last {
                    self.dispatch(h.call_id, req.context_id, req.opnum, req.stub);
                } else if usize::try_from(req.alloc_hint).unwrap_or(usize::MAX) > MAX_REQUEST {
                    self.fault_close(
                        h.call_id,
                        req.context_id,
                        FaultStatus::ACCESS_DENIED,
                        0,
                        "a request over 4 MiB",
                    );
                } else {
                    self.assembly = Some(Assembly {
                        call_id: h.call_id,
                        context_id: req.context_id,
                        opnum: req.opnum,
                        stub: req.stub.to_vec(),
                    });
                }
            }
        }
    }

    fn dispatch(&mut self, call_id: u32, context_id: u16, opnum: u16, stub: &[u8]) {
        match self.iface.call(&self.snapshot, opnum, stub) {
            Ok(out) => self.push_response(call_id, context_id, &out),
            Err(status) => {
                tracing::debug!(target: "smbd::dcerpc", pipe = self.name(), opnum, status = status.0, "fault");
                let flags = if status == FaultStatus::OP_RNG_ERROR {
                    pfc::DID_NOT_EXECUTE
                } else {
                    0
                };
                self.push_fault(call_id, context_id, status, flags);
            }
        }
    }

    /// The response stub in fragments of at most max_xmit_frag bytes; each
    /// alloc_hint is what is left of the stub from that fragment on.
    fn push_response(&mut self, call_id: u32, context_id: u16, stub: &[u8]) {
        let chunk = usize::from(self.max_xmit_frag)
            .saturating_sub(REQUEST_HEADER_LEN)
            .max(8);
        let mut rest = stub;
        let mut flags = pfc::FIRST_FRAG;
        loop {
            let (part, tail) = rest.split_at(rest.len().min(chunk));
            if tail.is_empty() {
                flags |= pfc::LAST_FRAG;
            }
            let body = Response {
                alloc_hint: u32::try_from(rest.len()).unwrap_or(u32::MAX),
                context_id,
                cancel_count: 0,
                stub: part,
            }
            .emit();
            self.push(PacketType::RESPONSE, flags, call_id, &body);
            rest = tail;
            flags = 0;
            if rest.is_empty() {
                break;
            }
        }
    }

    fn push_fault(&mut self, call_id: u32, context_id: u16, status: FaultStatus, flags: u8) {
        let body = Fault {
            alloc_hint: FAULT_ALLOC_HINT,
            context_id,
            cancel_count: 0,
            flags: 0,
            status: status.0,
        }
        .emit();
        self.push(
            PacketType::FAULT,
            pfc::FIRST_FRAG | pfc::LAST_FRAG | flags,
            call_id,
            &body,
        );
    }

    /// FAULT, then no more input (Samba's "fault and disconnect").
    fn fault_close(
        &mut self,
        call_id: u32,
        context_id: u16,
        status: FaultStatus,
        flags: u8,
        why: &'static str,
    ) {
        tracing::info!(target: "smbd::dcerpc", pipe = self.name(), user = %self.snapshot.user, call_id,
            status = status.0, "refusing {why}; the pipe takes no more input");
        self.push_fault(call_id, context_id, status, flags);
        self.close(why);
    }

    /// BIND_NAK listing version 5.0, then no more input.
    fn nak_close(&mut self, call_id: u32, reason: RejectReason, why: &'static str) {
        tracing::info!(target: "smbd::dcerpc", pipe = self.name(), user = %self.snapshot.user, call_id,
            reason = reason.0, "refusing {why}; the pipe takes no more input");
        let nak = BindNak {
            reason,
            versions: vec![(5, 0)],
        };
        self.push(
            PacketType::BIND_NAK,
            pfc::FIRST_FRAG | pfc::LAST_FRAG,
            call_id,
            &nak.emit(),
        );
        self.close(why);
    }

    fn close(&mut self, why: &'static str) {
        self.closed = Some(why);
        self.assembly = None;
        self.input = Vec::new();
        self.frag_length = None;
    }

    fn push(&mut self, ptype: PacketType, flags: u8, call_id: u32, body: &[u8]) {
        let pdu = emit_pdu(Header::new(ptype, flags, call_id), body);
        self.output_bytes += pdu.len();
        self.output.push_back(pdu);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_names() {
        for name in [
            "srvsvc",
            "SRVSVC",
            "\\PIPE\\srvsvc",
            "\\pipe\\SrvSvc",
            "pipe\\srvsvc",
            "\\srvsvc",
        ] {
            assert_eq!(
                Interface::from_pipe_name(name),
                Some(Interface::Srvsvc),
                "{name}"
            );
        }
        assert_eq!(Interface::from_pipe_name("wkssvc"), Some(Interface::Wkssvc));
        for name in [
            "lsarpc",
            "samr",
            "",
            "\\PIPE\\",
            "srvsvc\\..",
            "pipe\\pipe\\srvsvc",
            "srvsvcx",
        ] {
            assert_eq!(Interface::from_pipe_name(name), None, "{name}");
        }
    }
}
