//! Wire formats, in wire order, with checked parsing: every decoder takes
//! the untrusted bytes of one UDP datagram and returns a typed value or an
//! error naming what is wrong.
pub mod nbns;
