//! DCE/RPC over named pipes: srvsvc and wkssvc.
