//! Modules: named groups of providers with imports and exports.

use std::collections::HashSet;
use std::ffi::c_char;
use std::sync::Arc;

use omnitron::Error;
use omnitron::di::{ExportItem, Exports, ModuleKey, ModuleSpec, RawModule};
use parking_lot::Mutex;

use super::provider::{Builder, OmnitronProvider, PROVIDERS};
use super::token::{OmnitronToken, token_arg};
use crate::boundary::{Table, guard, guard_out, guard_void, str_arg};
use crate::error::OmnitronStatus;

/// A module under construction. Thread-safe (calls are serialized), though normally built on one
/// thread; loading it copies what the container needs.
#[derive(Debug)]
pub struct OmnitronModule {
    _private: [u8; 0],
}

pub(crate) struct ModuleData {
    key: ModuleKey,
    name: String,
    imports: Vec<(usize, ModuleKey)>,
    providers: Vec<Builder>,
    exports: Option<Vec<ExportItem>>,
    global: bool,
}

pub(crate) static MODULES: Table<Mutex<ModuleData>> = Table::new("module");

/// Creates an empty module named `name` (non-empty UTF-8, copied). Until omnitron_module_export is
/// called, every provider of the module is exported.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_module_new(
    name: *const c_char,
    out: *mut *mut OmnitronModule,
) -> OmnitronStatus {
    guard_out(out, || {
        let name = str_arg(name, "name")?;
        if name.trim().is_empty() {
            return Err(Error::invalid_argument("a module name cannot be empty"));
        }
        let data = ModuleData {
            key: ModuleKey::fresh(),
            name: name.to_string(),
            imports: Vec::new(),
            providers: Vec::new(),
            exports: None,
            global: false,
        };
        MODULES.insert_out(out, Mutex::new(data))
    })
}

/// Adds a copy of the provider description to the module.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_module_add_provider(
    module: *mut OmnitronModule,
    provider: *const OmnitronProvider,
) -> OmnitronStatus {
    guard(|| {
        let m = MODULES.get(module)?;
        let p = PROVIDERS.get(provider)?.lock().clone();
        m.lock().providers.push(p);
        Ok(())
    })
}

/// Makes `imported`'s exports visible inside `module`. The imported handle must stay alive until the
/// module is loaded.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_module_import(
    module: *mut OmnitronModule,
    imported: *const OmnitronModule,
) -> OmnitronStatus {
    guard(|| {
        let m = MODULES.get(module)?;
        let other = MODULES.get(imported)?;
        let key = if Arc::ptr_eq(&m, &other) { m.lock().key } else { other.lock().key };
        m.lock().imports.push((imported as usize, key));
        Ok(())
    })
}

/// Exports a token the module provides or imports. After the first call only listed tokens are
/// exported.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_module_export(
    module: *mut OmnitronModule,
    token: *const OmnitronToken,
) -> OmnitronStatus {
    guard(|| {
        let m = MODULES.get(module)?;
        let t = token_arg(token)?;
        m.lock().exports.get_or_insert_with(Vec::new).push(ExportItem::Token(t));
        Ok(())
    })
}

/// Re-exports everything an imported module exports.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_module_export_module(
    module: *mut OmnitronModule,
    imported: *const OmnitronModule,
) -> OmnitronStatus {
    guard(|| {
        let m = MODULES.get(module)?;
        let key = MODULES.get(imported)?.lock().key;
        m.lock().exports.get_or_insert_with(Vec::new).push(ExportItem::Module(key));
        Ok(())
    })
}

/// Exports nothing (a private module).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_module_export_none(module: *mut OmnitronModule) -> OmnitronStatus {
    guard(|| {
        MODULES.get(module)?.lock().exports = Some(Vec::new());
        Ok(())
    })
}

/// Makes the module's exports visible to every module without an import.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_module_set_global(
    module: *mut OmnitronModule,
    global: bool,
) -> OmnitronStatus {
    guard(|| {
        MODULES.get(module)?.lock().global = global;
        Ok(())
    })
}

/// Frees a module handle (containers it was loaded into keep what they need). NULL and freed
/// handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_module_free(module: *mut OmnitronModule) {
    guard_void(|| {
        MODULES.remove(module);
        Ok(())
    })
}

/// The module and everything it imports, as the engine's untyped modules. The engine checks loops
/// and exports; this only collects.
pub(crate) fn collect(module: *const OmnitronModule) -> Result<(ModuleKey, Vec<RawModule>), Error> {
    let root = MODULES.get(module)?;
    let entry = root.lock().key;
    let mut out = Vec::new();
    let mut seen: HashSet<usize> = HashSet::new();
    let mut stack = vec![(module as usize, root)];
    while let Some((handle, m)) = stack.pop() {
        if !seen.insert(handle) {
            continue;
        }
        let (spec, providers, imports) = {
            let d = m.lock();
            let spec = ModuleSpec {
                key: d.key,
                name: d.name.as_str().into(),
                imports: d.imports.iter().map(|(_, k)| *k).collect(),
                providers: Vec::new(),
                exports: match &d.exports {
                    None => Exports::All,
                    Some(items) => Exports::Only(items.clone()),
                },
                global: d.global,
                process: None,
            };
            (spec, d.providers.iter().map(Builder::to_raw).collect(), d.imports.clone())
        };
        for (h, _) in imports {
            let other = MODULES.get(h as *const OmnitronModule).map_err(|_| {
                Error::invalid_argument(format!(
                    "module '{}' imports a module handle that was freed",
                    spec.name
                ))
            })?;
            stack.push((h, other));
        }
        out.push(RawModule { spec, providers });
    }
    Ok((entry, out))
}
