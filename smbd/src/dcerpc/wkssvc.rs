//! wkssvc (MS-WKST), interface 6bffd098-a112-3610-9833-46c3f87e345a v1.0:
//! NetrWkstaGetInfo (opnum 0), which Windows Explorer asks for levels
//! 100-102. Interface structures as in Samba's wkssvc.idl, without wire
//! artifacts.

use super::ndr::{
    NdrReader, NdrStruct, NdrWriter, read_pointer_arm, read_string_pointer, write_pointer_arm,
    write_string_pointer,
};
use super::pdu::{SyntaxId, Uuid};
use super::srvsvc::PLATFORM_ID_NT;
use super::{FaultStatus, PipeError, RpcSnapshot, WError};

pub const SYNTAX: SyntaxId = SyntaxId {
    uuid: Uuid::from_fields(
        0x6bff_d098,
        0xa112,
        0x3610,
        [0x98, 0x33, 0x46, 0xc3, 0xf8, 0x7e, 0x34, 0x5a],
    ),
    version: 1,
};

pub mod opnum {
    pub const NET_WKSTA_GET_INFO: u16 = 0;
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetWkstaInfo100 {
    pub platform_id: u32,
    pub server_name: Option<String>,
    pub domain_name: Option<String>,
    pub version_major: u32,
    pub version_minor: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetWkstaInfo101 {
    pub platform_id: u32,
    pub server_name: Option<String>,
    pub domain_name: Option<String>,
    pub version_major: u32,
    pub version_minor: u32,
    pub lan_root: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetWkstaInfo102 {
    pub platform_id: u32,
    pub server_name: Option<String>,
    pub domain_name: Option<String>,
    pub version_major: u32,
    pub version_minor: u32,
    pub lan_root: Option<String>,
    pub logged_on_users: u32,
}

impl NdrStruct for NetWkstaInfo100 {
    const MIN_SCALARS: usize = 20;
    type Scalars = Self;
    fn read_scalars(r: &mut NdrReader<'_>) -> Result<Self, PipeError> {
        Ok(NetWkstaInfo100 {
            platform_id: r.u32("wki100_platform_id")?,
            server_name: r.string_pointer("wki100_computername")?,
            domain_name: r.string_pointer("wki100_langroup")?,
            version_major: r.u32("wki100_ver_major")?,
            version_minor: r.u32("wki100_ver_minor")?,
        })
    }
    fn read_deferred(r: &mut NdrReader<'_>, s: Self) -> Result<Self, PipeError> {
        let server_name = r.fill_string(s.server_name, "wki100_computername")?;
        let domain_name = r.fill_string(s.domain_name, "wki100_langroup")?;
        Ok(NetWkstaInfo100 {
            server_name,
            domain_name,
            ..s
        })
    }
    fn write_scalars(&self, w: &mut NdrWriter) {
        w.u32(self.platform_id);
        w.pointer(self.server_name.is_some());
        w.pointer(self.domain_name.is_some());
        w.u32(self.version_major);
        w.u32(self.version_minor);
    }
    fn write_deferred(&self, w: &mut NdrWriter) {
        w.deferred_string(&self.server_name);
        w.deferred_string(&self.domain_name);
    }
}

impl NdrStruct for NetWkstaInfo101 {
    const MIN_SCALARS: usize = 24;
    type Scalars = Self;
    fn read_scalars(r: &mut NdrReader<'_>) -> Result<Self, PipeError> {
        Ok(NetWkstaInfo101 {
            platform_id: r.u32("wki101_platform_id")?,
            server_name: r.string_pointer("wki101_computername")?,
            domain_name: r.string_pointer("wki101_langroup")?,
            version_major: r.u32("wki101_ver_major")?,
            version_minor: r.u32("wki101_ver_minor")?,
            lan_root: r.string_pointer("wki101_lanroot")?,
        })
    }
    fn read_deferred(r: &mut NdrReader<'_>, s: Self) -> Result<Self, PipeError> {
        let server_name = r.fill_string(s.server_name, "wki101_computername")?;
        let domain_name = r.fill_string(s.domain_name, "wki101_langroup")?;
        let lan_root = r.fill_string(s.lan_root, "wki101_lanroot")?;
        Ok(NetWkstaInfo101 {
            server_name,
            domain_name,
            lan_root,
            ..s
        })
    }
    fn write_scalars(&self, w: &mut NdrWriter) {
        w.u32(self.platform_id);
        w.pointer(self.server_name.is_some());
        w.pointer(self.domain_name.is_some());
        w.u32(self.version_major);
        w.u32(self.version_minor);
        w.pointer(self.lan_root.is_some());
    }
    fn write_deferred(&self, w: &mut NdrWriter) {
        w.deferred_string(&self.server_name);
        w.deferred_string(&self.domain_name);
        w.deferred_string(&self.lan_root);
    }
}

impl NdrStruct for NetWkstaInfo102 {
    const MIN_SCALARS: usize = 28;
    type Scalars = Self;
    fn read_scalars(r: &mut NdrReader<'_>) -> Result<Self, PipeError> {
        Ok(NetWkstaInfo102 {
            platform_id: r.u32("wki102_platform_id")?,
            server_name: r.string_pointer("wki102_computername")?,
            domain_name: r.string_pointer("wki102_langroup")?,
            version_major: r.u32("wki102_ver_major")?,
            version_minor: r.u32("wki102_ver_minor")?,
            lan_root: r.string_pointer("wki102_lanroot")?,
            logged_on_users: r.u32("wki102_logged_on_users")?,
        })
    }
    fn read_deferred(r: &mut NdrReader<'_>, s: Self) -> Result<Self, PipeError> {
        let server_name = r.fill_string(s.server_name, "wki102_computername")?;
        let domain_name = r.fill_string(s.domain_name, "wki102_langroup")?;
        let lan_root = r.fill_string(s.lan_root, "wki102_lanroot")?;
        Ok(NetWkstaInfo102 {
            server_name,
            domain_name,
            lan_root,
            ..s
        })
    }
    fn write_scalars(&self, w: &mut NdrWriter) {
        w.u32(self.platform_id);
        w.pointer(self.server_name.is_some());
        w.pointer(self.domain_name.is_some());
        w.u32(self.version_major);
        w.u32(self.version_minor);
        w.pointer(self.lan_root.is_some());
        w.u32(self.logged_on_users);
    }
    fn write_deferred(&self, w: &mut NdrWriter) {
        w.deferred_string(&self.server_name);
        w.deferred_string(&self.domain_name);
        w.deferred_string(&self.lan_root);
    }
}

/// WKSTA_INFO: the workstation at one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetWkstaInfo {
    Info100(Option<NetWkstaInfo100>),
    Info101(Option<NetWkstaInfo101>),
    Info102(Option<NetWkstaInfo102>),
    /// A level with no arm here: nothing follows the switch value.
    Other(u32),
}

impl NetWkstaInfo {
    pub fn level(&self) -> u32 {
        match self {
            NetWkstaInfo::Info100(_) => 100,
            NetWkstaInfo::Info101(_) => 101,
            NetWkstaInfo::Info102(_) => 102,
            NetWkstaInfo::Other(level) => *level,
        }
    }

    fn read(r: &mut NdrReader<'_>) -> Result<NetWkstaInfo, PipeError> {
        let level = r.u32("info switch")?;
        Ok(match level {
            100 => NetWkstaInfo::Info100(read_pointer_arm(r, "info100")?),
            101 => NetWkstaInfo::Info101(read_pointer_arm(r, "info101")?),
            102 => NetWkstaInfo::Info102(read_pointer_arm(r, "info102")?),
            other => NetWkstaInfo::Other(other),
        })
    }

    fn write(&self, w: &mut NdrWriter) {
        w.u32(self.level());
        match self {
            NetWkstaInfo::Info100(v) => write_pointer_arm(w, v),
            NetWkstaInfo::Info101(v) => write_pointer_arm(w, v),
            NetWkstaInfo::Info102(v) => write_pointer_arm(w, v),
            NetWkstaInfo::Other(_) => {}
        }
    }
}

/// NetrWkstaGetInfo request (opnum 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetWkstaGetInfoIn {
    pub server_name: Option<String>,
    pub level: u32,
}

/// NetrWkstaGetInfo response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetWkstaGetInfoOut {
    pub info: NetWkstaInfo,
    pub result: WError,
}

impl NetWkstaGetInfoIn {
    pub fn parse(stub: &[u8]) -> Result<NetWkstaGetInfoIn, PipeError> {
        let mut r = NdrReader::new(stub);
        Ok(NetWkstaGetInfoIn {
            server_name: read_string_pointer(&mut r, "server_name")?,
            level: r.u32("level")?,
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        write_string_pointer(&mut w, &self.server_name);
        w.u32(self.level);
        w.into_bytes()
    }
}

impl NetWkstaGetInfoOut {
    pub fn parse(stub: &[u8]) -> Result<NetWkstaGetInfoOut, PipeError> {
        let mut r = NdrReader::new(stub);
        Ok(NetWkstaGetInfoOut {
            info: NetWkstaInfo::read(&mut r)?,
            result: WError(r.u32("result")?),
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        self.info.write(&mut w);
        w.u32(self.result.0);
        w.into_bytes()
    }
}

/// Runs call `opnum` on `stub` and returns the response stub.
pub fn call(snapshot: &RpcSnapshot, opnum: u16, stub: &[u8]) -> Result<Vec<u8>, FaultStatus> {
    match opnum {
        opnum::NET_WKSTA_GET_INFO => {
            let req = NetWkstaGetInfoIn::parse(stub).map_err(|e| {
                tracing::debug!(target: "smbd::dcerpc", user = %snapshot.user, opnum, "wkssvc stub does not decode: {e}");
                FaultStatus::from(&e)
            })?;
            let out = net_wksta_get_info(snapshot, &req);
            tracing::debug!(target: "smbd::dcerpc", user = %snapshot.user, level = req.level,
                result = out.result.0, "wkssvc NetWkstaGetInfo");
            Ok(out.emit())
        }
        _ => Err(FaultStatus::OP_RNG_ERROR),
    }
}

/// Levels 100, 101, 102. The LAN root is empty, as Samba sends it. Level
/// 102 is answered to every user (Samba keeps it to domain admins, which
/// we cannot tell apart); it counts one logged-on user, the caller.
pub fn net_wksta_get_info(snapshot: &RpcSnapshot, req: &NetWkstaGetInfoIn) -> NetWkstaGetInfoOut {
    let s = &snapshot.server;
    let info = match req.level {
        100 => NetWkstaInfo::Info100(Some(NetWkstaInfo100 {
            platform_id: PLATFORM_ID_NT,
            server_name: Some(s.netbios_name.clone()),
            domain_name: Some(s.workgroup.clone()),
            version_major: s.version_major,
            version_minor: s.version_minor,
        })),
        101 => NetWkstaInfo::Info101(Some(NetWkstaInfo101 {
            platform_id: PLATFORM_ID_NT,
            server_name: Some(s.netbios_name.clone()),
            domain_name: Some(s.workgroup.clone()),
            version_major: s.version_major,
            version_minor: s.version_minor,
            lan_root: Some(String::new()),
        })),
        102 => NetWkstaInfo::Info102(Some(NetWkstaInfo102 {
            platform_id: PLATFORM_ID_NT,
            server_name: Some(s.netbios_name.clone()),
            domain_name: Some(s.workgroup.clone()),
            version_major: s.version_major,
            version_minor: s.version_minor,
            lan_root: Some(String::new()),
            logged_on_users: 1,
        })),
        other => {
            return NetWkstaGetInfoOut {
                info: NetWkstaInfo::Other(other),
                result: WError::INVALID_LEVEL,
            };
        }
    };
    NetWkstaGetInfoOut {
        info,
        result: WError::OK,
    }
}
