//! Who may do what: the optional write token (create, update, delete) and
//! read token (pages, status, charts, the job list).
//!
//! A client gives its token as `Authorization: Bearer TOKEN` or as a
//! `token=` parameter (for curl one-liners and links). The write token also
//! opens everything the read token does. Tokens are compared in constant
//! time, and nothing here logs them.

use std::fmt;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: redirects, static assets, the 404 fallback.
    Public,
    /// Reading jobs.
    Read,
    /// Changing jobs.
    Write,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What the route needs.
    pub access: Access,
    /// True when a token was given but it is not the right one.
    pub wrong: bool,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.access {
            Access::Write => "write",
            Access::Read | Access::Public => "read",
        };
        if self.wrong {
            write!(f, "the token given is not this server's {what} token")
        } else {
            write!(
                f,
                "this needs the server's {what} token: send 'Authorization: Bearer TOKEN' \
                 or add token=TOKEN"
            )
        }
    }
}

impl std::error::Error for Refusal {}

/// The tokens the server was started with; `None` leaves that access open.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Needed to create, update and delete.
    pub write: Option<String>,
    /// Needed to read.
    pub read: Option<String>,
}

/// Says which tokens are set, never what they are: a `Config` printed
/// for debugging, or in a test's failure, must not show them.
impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |token: &Option<String>| token.as_ref().map(|_| "…");
        f.debug_struct("Tokens")
            .field("write", &set(&self.write))
            .field("read", &set(&self.read))
            .finish()
    }
}

impl Tokens {
    /// Allows or refuses `access` with the token the client `given`.
    pub fn check(&self, access: Access, given: Option<&str>) -> Result<(), Refusal> {
        let accepted: &[&Option<String>] = match access {
            Access::Public => return Ok(()),
            Access::Read if self.read.is_none() => return Ok(()),
            Access::Read => &[&self.read, &self.write],
            Access::Write if self.write.is_none() => return Ok(()),
            Access::Write => &[&self.write],
        };
        let Some(given) = given else {
            return Err(Refusal {
                access,
                wrong: false,
            });
        };
        // Check every accepted token, so timing says nothing of which one
        // (or how much of one) matched.
        let matches = accepted
            .iter()
            .filter_map(|t| t.as_deref())
            .fold(false, |any, token| {
                any | same(token.as_bytes(), given.as_bytes())
            });
        if matches {
            Ok(())
        } else {
            Err(Refusal {
                access,
                wrong: true,
            })
        }
    }
}

impl Tokens {
    /// The token a page opened with `token=given` carries into its links
    /// and status polls, which would otherwise be refused: the read token,
    /// when reads need one and `given` opens them (the read token, or the
    /// write token, which opens reads too). Never the write token itself, so
    /// a link copied from a page opened with it cannot write. Without a read
    /// token reads are open and nothing is carried.
    pub fn read_token_for(&self, given: &str) -> Option<&str> {
        self.check(Access::Read, Some(given)).ok()?;
        self.read.as_deref()
    }
}

/// The token of an `Authorization: Bearer TOKEN` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares two byte strings in time that depends only on their lengths,
/// not on where they differ.
fn same(expected: &[u8], given: &[u8]) -> bool {
    let mut differ = expected.len() ^ given.len();
    for (i, &e) in expected.iter().enumerate() {
        // Past the end of `given`, compare with a byte that can't match
        // without branching on the length.
        let g = given.get(i).copied().unwrap_or(!e);
        differ |= usize::from(e ^ g);
    }
    differ == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_token() {
        let tokens = Tokens {
            write: Some("s3cret-w".into()),
            read: None,
        };
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(shown, "Tokens { write: Some(\"…\"), read: None }");
    }

    fn tokens(write: Option<&str>, read: Option<&str>) -> Tokens {
        Tokens {
            write: write.map(String::from),
            read: read.map(String::from),
        }
    }

    #[test]
    fn without_tokens_everything_is_open() {
        let open = Tokens::default();
        for access in [Access::Public, Access::Read, Access::Write] {
            assert_eq!(open.check(access, None), Ok(()));
            assert_eq!(open.check(access, Some("anything")), Ok(()));
        }
    }

    #[test]
    fn the_write_token_guards_writes_and_leaves_reads_open() {
        let t = tokens(Some("w-secret"), None);
        assert_eq!(t.check(Access::Read, None), Ok(()));
        assert_eq!(t.check(Access::Write, Some("w-secret")), Ok(()));
        let missing = t.check(Access::Write, None).unwrap_err();
        assert!(!missing.wrong);
        assert!(missing.to_string().contains("write token"));
        for wrong in ["w-secreT", "w-secret2", "w-secre", "", "r"] {
            assert_eq!(
                t.check(Access::Write, Some(wrong)),
                Err(Refusal {
                    access: Access::Write,
                    wrong: true
                }),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn the_read_token_guards_reads_and_the_write_token_opens_them_too() {
        let t = tokens(Some("w"), Some("r"));
        assert_eq!(t.check(Access::Read, Some("r")), Ok(()));
        assert_eq!(t.check(Access::Read, Some("w")), Ok(()));
        assert!(t.check(Access::Read, None).is_err());
        assert!(t.check(Access::Read, Some("x")).is_err());
        // The read token does not write.
        assert!(t.check(Access::Write, Some("r")).is_err());
        assert_eq!(t.check(Access::Public, None), Ok(()));
    }

    #[test]
    fn the_tokens_that_open_guarded_reads() {
        let t = tokens(Some("w"), Some("r"));
        assert_eq!(t.read_token_for("r"), Some("r"));
        assert_eq!(
            t.read_token_for("w"),
            Some("r"),
            "the write token is never carried"
        );
        assert_eq!(t.read_token_for("x"), None);
        assert_eq!(t.read_token_for(""), None);
        // Reads are open: nothing to carry.
        assert_eq!(tokens(Some("w"), None).read_token_for("w"), None);
        assert_eq!(tokens(None, Some("r")).read_token_for("r"), Some("r"));
    }

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[test]
    fn same_compares_whole_strings() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"ab", b"abc"));
        assert!(!same(b"\xff", b"\x00"));
        assert!(same(b"", b""));
    }
}
