//! Tokens: what providers are registered under and what dependencies name.

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

use omnitron::di::{TokenKey, TokenRef};

use crate::boundary::{Table, guard_out, guard_value, guard_void, str_arg};
use crate::error::OmnitronStatus;

/// A token. Two tokens made with the same name are different tokens; the name is for messages.
/// Immutable once made: use it from any number of threads at once.
#[derive(Debug)]
pub struct OmnitronToken {
    _private: [u8; 0],
}

pub(crate) struct TokenData {
    pub(crate) token: TokenRef,
    name: CString,
}

pub(crate) static TOKENS: Table<TokenData> = Table::new("token");

fn context_handle() -> usize {
    static CONTEXT: OnceLock<usize> = OnceLock::new();
    *CONTEXT.get_or_init(|| {
        let t = TokenRef::context();
        TOKENS
            .insert::<OmnitronToken>(TokenData { name: CString::new(&*t.name).unwrap_or_default(), token: t })
            as usize
    })
}

/// Creates a token named `name` (a non-empty UTF-8 string, copied). Free it with
/// omnitron_token_free once no provider or dependency you still create needs it; containers keep
/// what they need.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_token_new(
    name: *const c_char,
    out: *mut *mut OmnitronToken,
) -> OmnitronStatus {
    guard_out(out, || {
        let name = str_arg(name, "name")?;
        if name.trim().is_empty() {
            return Err(omnitron::Error::invalid_argument("a token name cannot be empty"));
        }
        let data = TokenData {
            token: TokenRef::new(TokenKey::fresh(), name),
            name: CString::new(name).unwrap_or_default(),
        };
        TOKENS.insert_out(out, data)
    })
}

/// The built-in CONTEXT token: as a dependency it gives the `context` pointer the scope was created
/// with (NULL outside a scope). Static; omnitron_token_free ignores it. NULL only in a forked child
/// (see FORK above).
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_token_context() -> *const OmnitronToken {
    guard_value(|| Ok(context_handle() as *const OmnitronToken))
}

/// The token's name, or NULL for an invalid handle. Valid while the token handle is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_token_name(token: *const OmnitronToken) -> *const c_char {
    guard_value(|| Ok(TOKENS.get(token)?.name.as_ptr()))
}

/// Frees a token handle. NULL, an already freed handle and the CONTEXT token are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_token_free(token: *mut OmnitronToken) {
    guard_void(|| {
        if token as usize != context_handle() {
            TOKENS.remove(token);
        }
        Ok(())
    })
}

pub(crate) fn token_arg(token: *const OmnitronToken) -> Result<TokenRef, omnitron::Error> {
    Ok(TOKENS.get(token)?.token.clone())
}
