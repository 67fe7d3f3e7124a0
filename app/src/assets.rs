//! The stylesheet, JS and WASM the build made, under the names it gave them,
//! and the `<head>` tags that load them.
//!
//! Leptos' `HashedStylesheet` and `HydrationScripts` find the hashed names by
//! reading `hash.txt` on every render; on this machine that was about a fifth
//! of a page's CPU (README, "Measured"). Here the names are read once, when the
//! server starts.

use leptos::prelude::*;
use std::sync::Arc;

/// Paths under the site root, e.g. `/pkg/selfserve.0a1b2c.wasm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetNames {
    pub stylesheet: Arc<str>,
    pub script: Arc<str>,
    pub wasm: Arc<str>,
}

#[cfg(feature = "ssr")]
impl AssetNames {
    /// `hash_file` is the text of the hash file the release build writes
    /// beside the server's binary, one `kind: hash` line per file (`css: 0a1b…`),
    /// as `cargo leptos` writes it; empty when names are plain.
    pub fn of(options: &LeptosOptions, hash_file: &str) -> Self {
        let name = |kind: &str| {
            let mut name = options.output_name.to_string();
            let hash = hash_file.lines().find_map(|line| {
                let (file, hash) = line.trim().split_once(':')?;
                (file == kind).then(|| hash.trim())
            });
            match hash.filter(|_| options.hash_files) {
                Some(hash) => {
                    name.push('.');
                    name.push_str(hash);
                }
                // wasm-bindgen's own name, unless the build renamed it.
                None if kind == "wasm" && option_env!("LEPTOS_OUTPUT_NAME").is_none() => {
                    name.push_str("_bg")
                }
                None => {}
            }
            let root = options.site_pkg_dir.as_ref();
            Arc::from(format!("/{root}/{name}.{kind}"))
        };
        Self {
            stylesheet: name("css"),
            script: name("js"),
            wasm: name("wasm"),
        }
    }
}

/// The stylesheet, and the script that loads the WASM and hydrates the page.
/// The preloads let the browser fetch both while it parses the page; they
/// carry `crossorigin` so that they match the module import and the WASM
/// `fetch`, which are CORS requests, and are not fetched twice.
#[component]
pub fn Assets(names: AssetNames) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    let loader = format!(
        "import({script:?}).then(m => m.default({{module_or_path: {wasm:?}}}).then(() => m.hydrate()));",
        script = names.script,
        wasm = names.wasm,
    );
    view! {
        <link rel="stylesheet" id="leptos" href=names.stylesheet />
        <link rel="modulepreload" href=names.script crossorigin="" />
        <link rel="preload" href=names.wasm r#as="fetch" r#type="application/wasm" crossorigin="" />
        <script type="module" nonce=nonce>{loader}</script>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    fn options(hashed: bool) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name("selfserve")
            .hash_files(hashed)
            .build()
    }

    #[test]
    fn hashed_names_come_from_the_hash_file() {
        let names = AssetNames::of(&options(true), "js: 11aa\nwasm: 22bb\ncss: 33cc\n");
        assert_eq!(&*names.stylesheet, "/pkg/selfserve.33cc.css");
        assert_eq!(&*names.script, "/pkg/selfserve.11aa.js");
        assert_eq!(&*names.wasm, "/pkg/selfserve.22bb.wasm");
    }

    #[test]
    fn without_hashing_the_names_are_plain() {
        let names = AssetNames::of(&options(false), "js: 11aa\n");
        assert_eq!(&*names.stylesheet, "/pkg/selfserve.css");
        assert_eq!(&*names.script, "/pkg/selfserve.js");
        assert!(names.wasm.starts_with("/pkg/selfserve"), "{}", names.wasm);
        assert!(names.wasm.ends_with(".wasm"), "{}", names.wasm);
    }
}
