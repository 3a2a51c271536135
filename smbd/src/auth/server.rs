//! The server side of one SESSION_SETUP exchange: SPNEGO around NTLMSSP.
//!
//! ```text
//! Start --NegTokenInit(NTLMSSP first, NEGOTIATE)--> AwaitAuthenticate  (reply: CHALLENGE)
//! Start --NegTokenInit(NTLMSSP later / no token)--> AwaitNegotiate     (reply: supportedMech)
//! Start --raw NTLMSSP NEGOTIATE-------------------> AwaitAuthenticate  (reply: raw CHALLENGE)
//! AwaitNegotiate --NegTokenResp(NEGOTIATE)--------> AwaitAuthenticate
//! AwaitAuthenticate --AUTHENTICATE----------------> Finished (Done)
//!                                   \-------------> AwaitMechListMic   (MIC owed by the client)
//! AwaitMechListMic --NegTokenResp(mechListMIC)----> Finished (Done)
//! any error ---------------------------------------> Finished (refuses further steps)
//! ```
//!
//! mechListMIC (MS-SPNG 3.3.5.1, as Samba does it): a MIC the client sends
//! is always verified (for a password-verified user). We send ours when
//! signing was negotiated and the client showed it knows "new" SPNEGO (a MIC
//! in its AUTHENTICATE, or a mechListMIC); if it then owes us its MIC we ask
//! for it with one more round. Guest and anonymous logons have no key, so no
//! MIC either way (Samba's replies for them carry none).

use std::time::{SystemTime, UNIX_EPOCH};

use subtle::ConstantTimeEq;

use super::ntlm::{self, SessionKeys};
use super::ntlmssp::{
    self, Authenticate, Challenge, Negotiate, NtlmError, NtlmV2Response, TargetInfo, flags,
};
use super::spnego::{self, ClientToken, NegState, NegTokenResp, OID_NTLMSSP};
use super::{AuthConfig, AuthError, AuthResult, GuestPolicy, Identity, PassDb, Step, Who};

/// SMB2 carries the security buffer length in 16 bits; Samba refuses larger
/// SPNEGO tokens too.
pub const MAX_BLOB: usize = 0xffff;

/// Seconds from 1601-01-01 to 1970-01-01.
const FILETIME_UNIX_EPOCH: u64 = 11_644_473_600;

fn filetime_now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_secs() + FILETIME_UNIX_EPOCH) * 10_000_000 + u64::from(since.subsec_nanos() / 100)
}

/// What SPNEGO remembers across rounds.
#[derive(Debug, Clone)]
struct SpnegoCtx {
    /// The client's mechTypes, DER as sent: what mechListMICs cover.
    mech_types_der: Vec<u8>,
    /// NTLMSSP was not the client's first choice (RFC 4178 downgrade).
    downgraded: bool,
}

#[derive(Debug)]
enum State {
    Start,
    AwaitNegotiate {
        spnego: SpnegoCtx,
    },
    AwaitAuthenticate {
        spnego: Option<SpnegoCtx>,
        negotiate: Vec<u8>,
        challenge: Vec<u8>,
        server_challenge: [u8; 8],
        flags: u32,
    },
    AwaitMechListMic {
        spnego: SpnegoCtx,
        keys: SessionKeys,
        result: AuthResult,
    },
    Finished,
}

/// The outcome of the NTLMSSP exchange proper.
struct Verified {
    result: AuthResult,
    who: Who,
    /// Signing keys, for a verified user with extended session security.
    keys: Option<SessionKeys>,
    /// The AUTHENTICATE carried a MIC (the client does "new" SPNEGO).
    auth_mic: bool,
    negotiated: u32,
}

/// One SESSION_SETUP exchange, server side.
pub struct ServerAuth {
    cfg: AuthConfig,
    /// The names the CHALLENGE carries (derived from `cfg`; tests replaying
    /// another server's exchange adjust them).
    pub(super) target: TargetInfo,
    /// Challenge and timestamp fixed in advance (tests), else fresh.
    fixed: Option<([u8; 8], u64)>,
    /// The client skipped SPNEGO: replies are raw NTLMSSP.
    raw: bool,
    state: State,
}

impl std::fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerAuth")
            .field("state", &std::mem::discriminant(&self.state))
            .finish_non_exhaustive()
    }
}

impl ServerAuth {
    pub fn new(cfg: AuthConfig) -> Self {
        let dns_computer = if cfg.dns_domain.is_empty() {
            cfg.netbios_name.to_lowercase()
        } else {
            format!(
                "{}.{}",
                cfg.netbios_name.to_lowercase(),
                cfg.dns_domain.to_lowercase()
            )
        };
        let target = TargetInfo {
            nb_domain: cfg.netbios_name.to_uppercase(),
            nb_computer: cfg.netbios_name.to_uppercase(),
            dns_domain: cfg.dns_domain.to_lowercase(),
            dns_computer,
            timestamp: 0,
        };
        ServerAuth {
            cfg,
            target,
            fixed: None,
            raw: false,
            state: State::Start,
        }
    }

    /// Like [`ServerAuth::new`] with a fixed server challenge and timestamp
    /// (FILETIME) instead of fresh ones: for tests that replay captured
    /// exchanges. Never use it for real clients.
    pub fn with_challenge(cfg: AuthConfig, challenge: [u8; 8], timestamp: u64) -> Self {
        let mut auth = Self::new(cfg);
        auth.fixed = Some((challenge, timestamp));
        auth
    }

    /// The blob to send with a failed SESSION_SETUP, if any: SPNEGO reject
    /// unless the client spoke raw NTLMSSP.
    pub fn reject_token(&self) -> Vec<u8> {
        if self.raw {
            Vec::new()
        } else {
            spnego::reject_token()
        }
    }

    /// One SESSION_SETUP security blob in; the blob to send back and, when
    /// done, the result. After an error or `Done` every further call fails.
    pub fn step(&mut self, blob: &[u8], db: &PassDb) -> Result<Step, AuthError> {
        let state = std::mem::replace(&mut self.state, State::Finished);
        let outcome = if blob.len() > MAX_BLOB {
            Err(AuthError::Unexpected("security blob larger than 64 KiB"))
        } else {
            self.advance(state, blob, db)
        };
        match outcome {
            Ok((step, next)) => {
                self.state = next;
                Ok(step)
            }
            Err(e) => {
                e.log();
                Err(e)
            }
        }
    }

    fn advance(
        &mut self,
        state: State,
        blob: &[u8],
        db: &PassDb,
    ) -> Result<(Step, State), AuthError> {
        match state {
            State::Start => self.start(blob),
            State::AwaitNegotiate { spnego } => {
                let resp = expect_resp(blob)?;
                let token = resp.response_token.ok_or(AuthError::Unexpected(
                    "negTokenResp without the NTLMSSP NEGOTIATE",
                ))?;
                self.negotiate(token, Some(spnego))
            }
            State::AwaitAuthenticate {
                spnego,
                negotiate,
                challenge,
                server_challenge,
                flags,
            } => {
                let ex = Exchange {
                    negotiate: &negotiate,
                    challenge: &challenge,
                    server_challenge: &server_challenge,
                    flags,
                };
                match spnego {
                    None => {
                        let v = self.authenticate(&ex, blob, db)?;
                        log_success(&v);
                        Ok((Step::Done(Vec::new(), v.result), State::Finished))
                    }
                    Some(spnego) => {
                        let resp = expect_resp(blob)?;
                        let token = resp.response_token.ok_or(AuthError::Unexpected(
                            "negTokenResp without the NTLMSSP AUTHENTICATE",
                        ))?;
                        let v = self.authenticate(&ex, token, db)?;
                        finish_spnego(spnego, v, resp.mech_list_mic)
                    }
                }
            }
            State::AwaitMechListMic {
                spnego,
                keys,
                result,
            } => {
                let resp = expect_resp(blob)?;
                if resp.response_token.is_some_and(|t| !t.is_empty()) {
                    return Err(AuthError::Unexpected(
                        "a token where only mechListMIC was due",
                    ));
                }
                let mic = resp.mech_list_mic.ok_or(AuthError::Unexpected(
                    "the requested mechListMIC is missing",
                ))?;
                let who = match &result.identity {
                    Identity::User { name } => Who {
                        user: name.clone(),
                        ..Who::default()
                    },
                    _ => Who::default(),
                };
                check_mech_list_mic(&keys, &spnego, mic, &who)?;
                tracing::info!(target: "smbd::auth", user = %who.user, "logon (mechListMIC verified)");
                let reply = spnego::encode_resp(&NegTokenResp {
                    neg_state: Some(NegState::AcceptCompleted),
                    ..NegTokenResp::default()
                });
                Ok((Step::Done(reply, result), State::Finished))
            }
            State::Finished => Err(AuthError::Unexpected(
                "session setup already finished or failed",
            )),
        }
    }

    fn start(&mut self, blob: &[u8]) -> Result<(Step, State), AuthError> {
        if blob.is_empty() {
            // No token yet: offer ours, as in the NEGOTIATE response.
            return Ok((Step::Continue(spnego::negotiate_token()), State::Start));
        }
        if ntlmssp::is_ntlmssp(blob) {
            self.raw = true;
            return self.negotiate(blob, None);
        }
        if !spnego::looks_like_spnego(blob) {
            return Err(AuthError::Unexpected(
                "security blob is neither SPNEGO nor NTLMSSP",
            ));
        }
        let init = match spnego::parse_client_token(blob)? {
            ClientToken::Init(init) => init,
            ClientToken::Resp(_) => {
                return Err(AuthError::Unexpected("negTokenResp before negTokenInit"));
            }
        };
        let Some(index) = init.mech_types.iter().position(|m| *m == OID_NTLMSSP) else {
            let offered = init
                .mech_types
                .iter()
                .map(|m| spnego::oid_to_string(m))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(AuthError::NoCommonMechanism(offered));
        };
        let spnego = SpnegoCtx {
            mech_types_der: init.mech_types_der.to_vec(),
            downgraded: index != 0,
        };
        match init.mech_token {
            // The optimistic token is for the client's first mechanism only.
            Some(token) if index == 0 && !token.is_empty() => self.negotiate(token, Some(spnego)),
            _ => {
                let reply = spnego::encode_resp(&NegTokenResp {
                    neg_state: Some(first_state(&spnego)),
                    supported_mech: Some(OID_NTLMSSP),
                    ..NegTokenResp::default()
                });
                Ok((Step::Continue(reply), State::AwaitNegotiate { spnego }))
            }
        }
    }

    /// NTLMSSP NEGOTIATE in, CHALLENGE out.
    fn negotiate(
        &mut self,
        token: &[u8],
        spnego: Option<SpnegoCtx>,
    ) -> Result<(Step, State), AuthError> {
        let neg = Negotiate::parse(token)?;
        let (server_challenge, timestamp) = match self.fixed {
            Some(fixed) => fixed,
            None => {
                let mut c = [0u8; 8];
                getrandom::fill(&mut c)
                    .map_err(|e| AuthError::Internal(format!("no random server challenge: {e}")))?;
                (c, filetime_now())
            }
        };
        let chal_flags = challenge_flags(neg.flags);
        let mut target_info = self.target.clone();
        target_info.timestamp = timestamp;
        let challenge = Challenge {
            flags: chal_flags,
            target_name: self.target.nb_computer.clone(),
            server_challenge,
            target_info,
        }
        .emit();
        tracing::debug!(target: "smbd::auth", flags = format_args!("{:#010x}", neg.flags),
            domain = neg.domain.as_deref().unwrap_or(""),
            workstation = neg.workstation.as_deref().unwrap_or(""), "NTLMSSP negotiate");
        let reply = match &spnego {
            Some(ctx) => spnego::encode_resp(&NegTokenResp {
                neg_state: Some(first_state(ctx)),
                supported_mech: Some(OID_NTLMSSP),
                response_token: Some(&challenge),
                mech_list_mic: None,
            }),
            None => challenge.clone(),
        };
        let next = State::AwaitAuthenticate {
            spnego,
            negotiate: token.to_vec(),
            challenge,
            server_challenge,
            flags: chal_flags,
        };
        Ok((Step::Continue(reply), next))
    }

    /// NTLMSSP AUTHENTICATE: who is it, and is the proof right?
    fn authenticate(
        &self,
        ex: &Exchange<'_>,
        token: &[u8],
        db: &PassDb,
    ) -> Result<Verified, AuthError> {
        let unicode = ex.flags & flags::NEGOTIATE_UNICODE != 0;
        let msg = Authenticate::parse(token, unicode)?;
        // Flags both sides agreed on; a client sending 0 keeps the
        // CHALLENGE's.
        let negotiated = if msg.flags == 0 {
            ex.flags
        } else {
            ex.flags & msg.flags
        };
        let who = Who {
            user: msg.user.clone(),
            domain: msg.domain.clone(),
            workstation: msg.workstation.clone(),
        };
        let zero_key = [0u8; 16];
        let verified = |identity, session_key, keys, auth_mic, who| Verified {
            result: AuthResult {
                identity,
                session_key,
            },
            who,
            keys,
            auth_mic,
            negotiated,
        };

        // MS-NLMP 3.2.5.1.2: empty user name and empty responses (the LM
        // one may be a single zero byte) is an anonymous logon.
        if msg.user.is_empty() && msg.nt_response.is_empty() && matches!(msg.lm_response, [] | [0])
        {
            if !self.cfg.allow_anonymous {
                return Err(AuthError::LogonFailure {
                    who,
                    reason: "anonymous logons are not allowed",
                });
            }
            return Ok(verified(Identity::Anonymous, zero_key, None, false, who));
        }

        // Shape checks before any account is looked at, so malformed input
        // is refused the same way for every user name.
        let response = match msg.nt_response.len() {
            0 => Response::None,
            ntlmssp::V1_RESPONSE_LEN => Response::V1,
            _ => Response::V2(NtlmV2Response::parse(msg.nt_response)?),
        };
        if negotiated & flags::NEGOTIATE_KEY_EXCH != 0 && msg.encrypted_session_key.len() != 16 {
            return Err(NtlmError::BadSessionKeyLength(msg.encrypted_session_key.len()).into());
        }
        let mic_flagged = matches!(&response, Response::V2(r) if r.mic_present());
        if mic_flagged && msg.mic.is_none() {
            return Err(NtlmError::NoRoomForMic.into());
        }

        let guest_ok = |on_bad_password: bool| match self.cfg.map_to_guest {
            GuestPolicy::Never => false,
            GuestPolicy::BadUser => !on_bad_password,
            GuestPolicy::BadPassword => true,
        };
        let Some(entry) = db.lookup(&msg.user) else {
            if guest_ok(false) {
                return Ok(verified(Identity::Guest, zero_key, None, false, who));
            }
            return Err(AuthError::LogonFailure {
                who,
                reason: "no such user",
            });
        };
        let r = match response {
            Response::V2(r) => r,
            Response::V1 => {
                return Err(AuthError::Unsupported {
                    who,
                    reason: "NTLMv1 response refused (ntlmv2-only)",
                });
            }
            Response::None => {
                return Err(AuthError::Unsupported {
                    who,
                    reason: "no NT response (LM or empty password) refused (ntlmv2-only)",
                });
            }
        };

        // NTOWFv2 with the domain the client sent, as upper case, with no
        // domain and with our workgroup (clients differ; Samba tries the
        // first three).
        let upper_domain = msg.domain.to_uppercase();
        let mut domains: Vec<&str> = Vec::with_capacity(4);
        for d in [
            msg.domain.as_str(),
            upper_domain.as_str(),
            "",
            self.cfg.workgroup.as_str(),
        ] {
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        let proof = entry.nt_hash.and_then(|hash| {
            domains.iter().find_map(|d| {
                let owf = ntlm::ntowf_v2(&hash, &msg.user, d);
                let expect = ntlm::nt_proof_str(&owf, ex.server_challenge, r.blob);
                bool::from(expect.ct_eq(&r.nt_proof)).then_some(owf)
            })
        });
        let Some(ntowf) = proof else {
            if !entry.disabled() && guest_ok(true) {
                return Ok(verified(Identity::Guest, zero_key, None, false, who));
            }
            return Err(AuthError::LogonFailure {
                who,
                reason: if entry.nt_hash.is_some() {
                    "wrong password"
                } else {
                    "account has no password"
                },
            });
        };

        // MS-NLMP 3.3.2: for NTLMv2 the key exchange key is the session base
        // key.
        let base = ntlm::session_base_key(&ntowf, &r.nt_proof);
        let exported = if negotiated & flags::NEGOTIATE_KEY_EXCH != 0 {
            let mut key = [0u8; 16];
            key.copy_from_slice(msg.encrypted_session_key);
            ntlm::rc4(&base, &mut key);
            key
        } else {
            base
        };
        if r.mic_present() {
            let expect = ntlm::hmac_md5(
                &exported,
                &[ex.negotiate, ex.challenge, &ntlmssp::zero_mic(token)],
            );
            let ok = msg.mic.is_some_and(|mic| bool::from(expect.ct_eq(&mic)));
            if !ok {
                return Err(AuthError::LogonFailure {
                    who,
                    reason: "AUTHENTICATE MIC does not verify",
                });
            }
        }
        if entry.disabled() {
            return Err(AuthError::AccountDisabled { who });
        }
        let keys = (negotiated & flags::NEGOTIATE_EXTENDED_SESSIONSECURITY != 0)
            .then(|| SessionKeys::derive(&exported, negotiated));
        let identity = Identity::User {
            name: entry.name.clone(),
        };
        Ok(verified(identity, exported, keys, r.mic_present(), who))
    }
}

/// What AUTHENTICATE is checked against.
struct Exchange<'a> {
    negotiate: &'a [u8],
    challenge: &'a [u8],
    server_challenge: &'a [u8; 8],
    flags: u32,
}

enum Response<'a> {
    None,
    V1,
    V2(NtlmV2Response<'a>),
}

/// The CHALLENGE's flags for a client's NEGOTIATE flags: what it asked for
/// that we support, plus what we always do (NTLM, target info, standalone
/// server). Never LM_KEY, datagram or identify.
fn challenge_flags(client: u32) -> u32 {
    use flags::*;
    const ECHOED: u32 = REQUEST_TARGET
        | NEGOTIATE_SIGN
        | NEGOTIATE_SEAL
        | NEGOTIATE_ALWAYS_SIGN
        | NEGOTIATE_EXTENDED_SESSIONSECURITY
        | NEGOTIATE_VERSION
        | NEGOTIATE_128
        | NEGOTIATE_KEY_EXCH
        | NEGOTIATE_56;
    let charset = if client & NEGOTIATE_UNICODE != 0 {
        NEGOTIATE_UNICODE
    } else {
        NEGOTIATE_OEM
    };
    charset | (client & ECHOED) | NEGOTIATE_NTLM | NEGOTIATE_TARGET_INFO | TARGET_TYPE_SERVER
}

/// accept-incomplete, or request-mic after a downgrade (as Samba).
fn first_state(ctx: &SpnegoCtx) -> NegState {
    if ctx.downgraded {
        NegState::RequestMic
    } else {
        NegState::AcceptIncomplete
    }
}

fn expect_resp(blob: &[u8]) -> Result<NegTokenResp<'_>, AuthError> {
    match spnego::parse_client_token(blob)? {
        ClientToken::Resp(resp) => Ok(resp),
        ClientToken::Init(_) => Err(AuthError::Unexpected("a second negTokenInit")),
    }
}

fn check_mech_list_mic(
    keys: &SessionKeys,
    spnego: &SpnegoCtx,
    mic: &[u8],
    who: &Who,
) -> Result<(), AuthError> {
    let expect = keys.first_mic(&keys.client, &spnego.mech_types_der);
    if bool::from(expect.as_slice().ct_eq(mic)) {
        Ok(())
    } else {
        Err(AuthError::LogonFailure {
            who: who.clone(),
            reason: "SPNEGO mechListMIC does not verify",
        })
    }
}

fn log_success(v: &Verified) {
    let kind = match &v.result.identity {
        Identity::User { .. } => "user",
        Identity::Guest => "guest",
        Identity::Anonymous => "anonymous",
    };
    tracing::info!(target: "smbd::auth", user = %v.who.user, domain = %v.who.domain,
        workstation = %v.who.workstation, identity = kind, "logon");
}

/// The SPNEGO reply to a verified AUTHENTICATE.
fn finish_spnego(
    spnego: SpnegoCtx,
    v: Verified,
    client_mic: Option<&[u8]>,
) -> Result<(Step, State), AuthError> {
    let completed = |mic: Option<&[u8]>| {
        spnego::encode_resp(&NegTokenResp {
            neg_state: Some(NegState::AcceptCompleted),
            mech_list_mic: mic,
            ..NegTokenResp::default()
        })
    };
    if !matches!(v.result.identity, Identity::User { .. }) {
        // No key to check or sign with.
        log_success(&v);
        return Ok((Step::Done(completed(None), v.result), State::Finished));
    }
    let have_sign = v.negotiated & flags::NEGOTIATE_SIGN != 0;
    let new_spnego = v.auth_mic || client_mic.is_some();
    let wants_mic = have_sign && new_spnego;
    if !wants_mic && client_mic.is_none() {
        log_success(&v);
        return Ok((Step::Done(completed(None), v.result), State::Finished));
    }
    let Some(keys) = v.keys.clone() else {
        return Err(AuthError::Unsupported {
            who: v.who,
            reason: "mechListMIC without extended session security",
        });
    };
    if let Some(mic) = client_mic {
        check_mech_list_mic(&keys, &spnego, mic, &v.who)?;
    }
    let ours = wants_mic.then(|| keys.first_mic(&keys.server, &spnego.mech_types_der));
    if wants_mic && client_mic.is_none() {
        // The client owes us its mechListMIC: one more round.
        let reply = spnego::encode_resp(&NegTokenResp {
            neg_state: Some(NegState::AcceptIncomplete),
            mech_list_mic: ours.as_ref().map(|m| m.as_slice()),
            ..NegTokenResp::default()
        });
        let next = State::AwaitMechListMic {
            spnego,
            keys,
            result: v.result,
        };
        return Ok((Step::Continue(reply), next));
    }
    log_success(&v);
    let reply = completed(ours.as_ref().map(|m| m.as_slice()));
    Ok((Step::Done(reply, v.result), State::Finished))
}
