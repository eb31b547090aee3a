//! Tokens: what a provider is registered under and what a dependent asks for.
//!
//! A token is an identity, not a name. Two tokens created with the same name are two different tokens;
//! the name only appears in messages and graphs. (The original framework interned tokens globally by
//! name, so two modules that both called their token `Config` silently shared one.) Every token gets a
//! [`TokenKey`] from one process-wide counter, so keys made by different bindings never collide.

use std::any::{TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

/// The engine's identity for a token. Bindings allocate one per class, named token or string token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenKey(u64);

/// Keys below this are reserved for built-in tokens.
const FIRST_USER_KEY: u64 = 16;

static NEXT_KEY: AtomicU64 = AtomicU64::new(FIRST_USER_KEY);

impl TokenKey {
    /// The built-in token whose value, inside a scope, is the context the scope was created with.
    pub const CONTEXT: TokenKey = TokenKey(1);

    /// A key no other token has.
    pub fn fresh() -> TokenKey {
        TokenKey(NEXT_KEY.fetch_add(1, Ordering::Relaxed))
    }

    /// The raw number, for bindings that pass keys across their boundary.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Rebuilds a key from [`TokenKey::as_u64`]. The engine treats keys it never saw as unknown tokens.
    pub fn from_u64(raw: u64) -> TokenKey {
        TokenKey(raw)
    }

    /// Whether this is one of the engine's built-in tokens.
    pub fn is_builtin(self) -> bool {
        self.0 < FIRST_USER_KEY
    }
}

/// A map keyed by token keys.
pub(crate) type KeyMap<V> = crate::int_hash::IntMap<TokenKey, V>;

/// A typed token: registering a provider under it and resolving it both speak of `T`.
///
/// ```
/// use omnitron::di::Token;
/// let a = Token::<String>::new("Greeting");
/// let b = Token::<String>::new("Greeting");
/// assert_ne!(a, b, "same name, different tokens");
/// assert_eq!(a, a.clone());
/// ```
pub struct Token<T: ?Sized> {
    key: TokenKey,
    name: Arc<str>,
    _type: PhantomData<fn() -> T>,
}

impl<T: ?Sized + 'static> Token<T> {
    /// A new token, different from every other token, with a name for messages.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Token { key: TokenKey::fresh(), name: name.into(), _type: PhantomData }
    }

    /// The one token for the type `T` in this process, named after the type.
    ///
    /// Use this when a type is its own token, the way a class is in TypeScript.
    pub fn of() -> Self {
        type ByType = HashMap<TypeId, (TokenKey, Arc<str>)>;
        static BY_TYPE: RwLock<Option<ByType>> = RwLock::new(None);
        let id = TypeId::of::<T>();
        if let Some((key, name)) = BY_TYPE.read().as_ref().and_then(|m| m.get(&id)) {
            return Token { key: *key, name: name.clone(), _type: PhantomData };
        }
        let mut map = BY_TYPE.write();
        let (key, name) = map
            .get_or_insert_with(HashMap::new)
            .entry(id)
            .or_insert_with(|| (TokenKey::fresh(), short_type_name(type_name::<T>()).into()))
            .clone();
        Token { key, name, _type: PhantomData }
    }

    /// The built-in `CONTEXT` token, typed as the context scopes are created with: inside a scope it
    /// gives that scope's context, outside any scope the container's own.
    pub fn context() -> Self {
        Token { key: TokenKey::CONTEXT, name: "CONTEXT".into(), _type: PhantomData }
    }

    /// The key the engine knows this token by.
    pub fn key(&self) -> TokenKey {
        self.key
    }

    /// The name given at creation.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.name.clone()
    }
}

/// `my_app::users::UserService` -> `UserService`, keeping generic arguments readable.
fn short_type_name(full: &str) -> String {
    let base = full.split('<').next().unwrap_or(full);
    let short = base.rsplit("::").next().unwrap_or(base);
    match full.find('<') {
        Some(i) => format!("{short}{}", &full[i..]),
        None => short.to_string(),
    }
}

impl<T: ?Sized> Clone for Token<T> {
    fn clone(&self) -> Self {
        Token { key: self.key, name: self.name.clone(), _type: PhantomData }
    }
}

impl<T: ?Sized> PartialEq for Token<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<T: ?Sized> Eq for Token<T> {}

impl<T: ?Sized> Hash for Token<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state)
    }
}

impl<T: ?Sized> fmt::Debug for Token<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({} #{})", self.name, self.key.0)
    }
}

impl<T: ?Sized> fmt::Display for Token<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Service;

    #[test]
    fn tokens_are_identities() {
        let a = Token::<u8>::new("X");
        let b = Token::<u8>::new("X");
        assert_ne!(a.key(), b.key());
        assert_eq!(a.name(), b.name());
    }

    #[test]
    fn type_tokens_are_stable_and_named_after_the_type() {
        let a = Token::<Service>::of();
        let b = Token::<Service>::of();
        assert_eq!(a, b);
        assert_eq!(a.name(), "Service");
        assert_ne!(Token::<Vec<Service>>::of().key(), a.key());
        assert_eq!(short_type_name("a::b::Vec<a::C>"), "Vec<a::C>");
    }
}
