//! Who may use a volume's database: root, the owner of the database
//! directory, and the users and groups db_param's allow_users and
//! allow_groups name. Decided from the kernel's record of the peer
//! (SO_PEERCRED, SO_PEERGROUPS), never from what the peer says.

use common::cred::PeerCred;
use common::dbparam::DbParam;

pub struct Policy {
    owner: u32,
    users: Vec<u32>,
    groups: Vec<u32>,
}

impl Policy {
    pub fn new(owner: u32, params: &DbParam) -> Policy {
        Policy {
            owner,
            users: params.allow_users.iter().map(|p| p.id).collect(),
            groups: params.allow_groups.iter().map(|p| p.id).collect(),
        }
    }

    pub fn check(&self, peer: &PeerCred, groups: &[u32]) -> Result<(), String> {
        if peer.uid == 0
            || peer.uid == self.owner
            || self.users.contains(&peer.uid)
            || self.groups.contains(&peer.gid)
            || groups.iter().any(|g| self.groups.contains(g))
        {
            return Ok(());
        }
        Err(format!(
            "uid {} may not use this volume's CNID database (allowed: root, the owner uid {}{}{})",
            peer.uid,
            self.owner,
            if self.users.is_empty() {
                String::new()
            } else {
                format!(", uids {:?}", self.users)
            },
            if self.groups.is_empty() {
                String::new()
            } else {
                format!(", gids {:?}", self.groups)
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::dbparam::Principal;

    #[test]
    fn who_may_connect() {
        let mut p = DbParam::default();
        p.allow_users.push(Principal {
            name: "bob".into(),
            id: 1002,
        });
        p.allow_groups.push(Principal {
            name: "staff".into(),
            id: 50,
        });
        let pol = Policy::new(1000, &p);
        let peer = |uid, gid| PeerCred { pid: 1, uid, gid };
        assert!(pol.check(&peer(0, 0), &[]).is_ok());
        assert!(pol.check(&peer(1000, 1000), &[]).is_ok());
        assert!(pol.check(&peer(1002, 1002), &[]).is_ok());
        assert!(pol.check(&peer(1003, 50), &[]).is_ok());
        assert!(pol.check(&peer(1004, 1004), &[7, 50]).is_ok());
        let e = pol.check(&peer(1005, 1005), &[7]).unwrap_err();
        assert!(e.starts_with("uid 1005 may not use"), "{e}");
    }
}
