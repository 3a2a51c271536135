//! The IPC$ backend: named pipes, each a DCE/RPC server (srvsvc, wkssvc).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::info::{BasicInfo, FileInfo, FileInfoClass, PipeLocalInfo, StandardInfo};
use super::*;
use crate::dcerpc::{self, Pipe, RpcSnapshot, ServerInfo, ShareInfo, ShareKind};
use crate::server::Server;
use crate::wire::NtStatus;

/// An open pipe: its handle and its RPC state.
type OpenPipe = (FileId, Arc<Mutex<Pipe>>);

pub struct IpcBackend {
    server: Arc<Server>,
    user: Arc<UserToken>,
    pipes: Mutex<HashMap<u64, OpenPipe>>,
}

/// What the RPC services show of this server, now.
pub fn snapshot(server: &Server, user: &str) -> RpcSnapshot {
    let conf = server.conf();
    let g = &conf.global;
    let mut shares: Vec<ShareInfo> = conf
        .shares
        .iter()
        .filter(|s| s.path.is_some())
        .map(|s| ShareInfo {
            name: s.name.clone(),
            kind: ShareKind::Disk,
            comment: s.comment.clone(),
            path: format!(
                "C:{}",
                s.path
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
                    .replace('/', "\\")
            ),
            hidden: !s.browseable || !s.available,
            max_users: None,
            current_users: 0,
        })
        .collect();
    shares.push(ShareInfo {
        name: "IPC$".into(),
        kind: ShareKind::Ipc,
        comment: format!("IPC Service ({})", g.server_string),
        path: "C:\\tmp".into(),
        hidden: false,
        max_users: None,
        current_users: 0,
    });
    RpcSnapshot {
        server: ServerInfo {
            netbios_name: g.netbios_name.clone(),
            workgroup: g.workgroup.clone(),
            comment: g.server_string.clone(),
            version_major: 6,
            version_minor: 1,
            server_type: dcerpc::SAMBA_SERVER_TYPE,
        },
        shares,
        user: user.to_string(),
    }
}

impl IpcBackend {
    pub fn new(server: Arc<Server>, user: Arc<UserToken>) -> IpcBackend {
        IpcBackend {
            server,
            user,
            pipes: Mutex::new(HashMap::new()),
        }
    }

    fn pipe(&self, id: FileId) -> NtResult<Arc<Mutex<Pipe>>> {
        match self.pipes.lock().expect("pipes").get(&id.volatile) {
            Some((fid, p)) if *fid == id => Ok(p.clone()),
            _ => Err(NtStatus::FILE_CLOSED),
        }
    }

    fn pipe_error(e: dcerpc::PipeError) -> NtStatus {
        tracing::info!(target: "smbd::ipc", "pipe error: {e}");
        NtStatus(e.nt_status())
    }
}

const PIPE_ATTR: u32 = types::attr::NORMAL;

impl Ntvfs for IpcBackend {
    fn create<'a>(
        &'a self,
        _ctx: &'a RequestCtx,
        io: CreateIn,
    ) -> BoxFuture<'a, NtResult<CreateOut>> {
        Box::pin(async move {
            let snap = snapshot(&self.server, &self.user.name);
            let Some(pipe) = Pipe::open(&io.name, snap) else {
                tracing::debug!(target: "smbd::ipc", pipe = %io.name, "no such pipe");
                return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
            };
            self.pipes.lock().expect("pipes").insert(
                io.file_id.volatile,
                (io.file_id, Arc::new(Mutex::new(pipe))),
            );
            Ok(CreateOut {
                oplock: OplockLevel::None,
                flags: 0,
                action: CreateAction::Opened,
                info: NetworkOpenInfo {
                    allocation_size: 4096,
                    attributes: PIPE_ATTR,
                    ..Default::default()
                },
                file_id: io.file_id,
                contexts: Vec::new(),
            })
        })
    }

    fn close<'a>(&'a self, _ctx: &'a RequestCtx, io: CloseIn) -> BoxFuture<'a, NtResult<CloseOut>> {
        Box::pin(async move {
            self.pipe(io.file_id)?;
            self.pipes
                .lock()
                .expect("pipes")
                .remove(&io.file_id.volatile);
            Ok(CloseOut {
                info: io.postquery.then(|| NetworkOpenInfo {
                    allocation_size: 4096,
                    attributes: PIPE_ATTR,
                    ..Default::default()
                }),
            })
        })
    }

    fn flush<'a>(&'a self, _ctx: &'a RequestCtx, io: FlushIn) -> BoxFuture<'a, NtResult<()>> {
        Box::pin(async move { self.pipe(io.file_id).map(|_| ()) })
    }

    fn read<'a>(&'a self, _ctx: &'a RequestCtx, io: ReadIn) -> BoxFuture<'a, NtResult<ReadOut>> {
        Box::pin(async move {
            let p = self.pipe(io.file_id)?;
            let out = p.lock().expect("pipe").read(io.length as usize);
            if out.data.is_empty() {
                return Err(NtStatus(0xc000_00d9)); // PIPE_EMPTY
            }
            Ok(ReadOut {
                data: out.data,
                remaining: 0,
                truncated: out.more,
            })
        })
    }

    fn write<'a>(&'a self, _ctx: &'a RequestCtx, io: WriteIn) -> BoxFuture<'a, NtResult<WriteOut>> {
        Box::pin(async move {
            let p = self.pipe(io.file_id)?;
            let n = p
                .lock()
                .expect("pipe")
                .write(&io.data)
                .map_err(Self::pipe_error)?;
            Ok(WriteOut {
                count: n as u32,
                remaining: 0,
            })
        })
    }

    fn lock<'a>(&'a self, _ctx: &'a RequestCtx, _io: LockIn) -> BoxFuture<'a, NtResult<()>> {
        Box::pin(async { Err(NtStatus::NOT_SUPPORTED) })
    }

    fn ioctl<'a>(&'a self, _ctx: &'a RequestCtx, io: IoctlIn) -> BoxFuture<'a, NtResult<IoctlOut>> {
        Box::pin(async move {
            match io.ctl_code {
                types::fsctl::PIPE_TRANSCEIVE => {
                    let p = self.pipe(io.file_id)?;
                    let out = p
                        .lock()
                        .expect("pipe")
                        .transceive(&io.input, io.max_output_response as usize)
                        .map_err(Self::pipe_error)?;
                    Ok(IoctlOut {
                        input: Vec::new(),
                        output: out.data,
                        status: if out.more {
                            NtStatus::BUFFER_OVERFLOW
                        } else {
                            NtStatus::SUCCESS
                        },
                    })
                }
                types::fsctl::PIPE_WAIT => Ok(IoctlOut {
                    input: Vec::new(),
                    output: Vec::new(),
                    status: NtStatus::SUCCESS,
                }),
                _ => Err(NtStatus::NOT_SUPPORTED),
            }
        })
    }

    fn query_directory<'a>(
        &'a self,
        _ctx: &'a RequestCtx,
        _io: QueryDirIn,
    ) -> BoxFuture<'a, NtResult<QueryDirOut>> {
        Box::pin(async { Err(NtStatus::NOT_SUPPORTED) })
    }

    fn notify<'a>(
        &'a self,
        _ctx: &'a RequestCtx,
        _io: NotifyIn,
    ) -> BoxFuture<'a, NtResult<NotifyOut>> {
        Box::pin(async { Err(NtStatus::NOT_SUPPORTED) })
    }

    fn query_info<'a>(
        &'a self,
        _ctx: &'a RequestCtx,
        io: QueryInfoIn,
    ) -> BoxFuture<'a, NtResult<QueryInfoOut>> {
        Box::pin(async move {
            let p = self.pipe(io.file_id)?;
            let pending = p.lock().expect("pipe").pending() as u32;
            let info = match io.request {
                InfoRequest::File(FileInfoClass::Standard) => FileInfo::Standard(StandardInfo {
                    allocation_size: 4096,
                    end_of_file: 0,
                    number_of_links: 1,
                    delete_pending: true,
                    directory: false,
                }),
                InfoRequest::File(FileInfoClass::Basic) => FileInfo::Basic(BasicInfo {
                    attributes: PIPE_ATTR,
                    ..Default::default()
                }),
                InfoRequest::File(FileInfoClass::Pipe) => FileInfo::Pipe {
                    read_mode: 1,
                    completion_mode: 0,
                },
                InfoRequest::File(FileInfoClass::PipeLocal) => FileInfo::PipeLocal(PipeLocalInfo {
                    named_pipe_type: 1,
                    configuration: 2,
                    maximum_instances: 0xffff_ffff,
                    current_instances: 1,
                    inbound_quota: 4096,
                    read_data_available: pending,
                    outbound_quota: 4096,
                    write_quota_available: 4096,
                    state: 3,
                    end: 1,
                }),
                InfoRequest::File(FileInfoClass::Access) => FileInfo::Access {
                    flags: types::access::FILE_ALL_ACCESS,
                },
                InfoRequest::File(FileInfoClass::Position) => FileInfo::Position { offset: 0 },
                InfoRequest::File(FileInfoClass::Mode) => FileInfo::Mode { mode: 0 },
                InfoRequest::File(FileInfoClass::NetworkOpen) => {
                    FileInfo::NetworkOpen(NetworkOpenInfo {
                        allocation_size: 4096,
                        attributes: PIPE_ATTR,
                        ..Default::default()
                    })
                }
                _ => return Err(NtStatus::INVALID_INFO_CLASS),
            };
            Ok(QueryInfoOut::File(info))
        })
    }

    fn set_info<'a>(&'a self, _ctx: &'a RequestCtx, io: SetInfoIn) -> BoxFuture<'a, NtResult<()>> {
        Box::pin(async move {
            self.pipe(io.file_id)?;
            Err(NtStatus::NOT_SUPPORTED)
        })
    }

    fn oplock_break<'a>(
        &'a self,
        _ctx: &'a RequestCtx,
        _io: OplockBreakIn,
    ) -> BoxFuture<'a, NtResult<OplockBreakOut>> {
        Box::pin(async { Err(NtStatus::INVALID_PARAMETER) })
    }

    fn disconnect<'a>(&'a self) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.pipes.lock().expect("pipes").clear() })
    }
}
