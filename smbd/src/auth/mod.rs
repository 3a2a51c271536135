//! Authentication: SPNEGO, NTLMSSP, the password database.
