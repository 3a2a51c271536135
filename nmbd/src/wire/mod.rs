//! Wire formats, in wire order, with checked parsing: every decoder takes
//! the untrusted bytes of one UDP datagram and returns a typed value or an
//! error naming what is wrong.

pub mod browse;
#[cfg(test)]
mod captured;
pub mod cursor;
pub mod dgram;
pub mod nbns;
#[cfg(test)]
mod tests;
