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
    /// The single-page bundles (`crate::entries`) the build made; none in a
    /// development build, where every page loads the whole app.
    pub entries: Arc<[EntryBundle]>,
}

/// The bundle that hydrates one page only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryBundle {
    /// The page's path, e.g. `/signin`.
    pub path: &'static str,
    pub script: Arc<str>,
    pub wasm: Arc<str>,
}

impl AssetNames {
    /// The script and WASM that hydrate the page at `path`: its own bundle
    /// if it has one, else the whole app's.
    pub fn bundle_for(&self, path: &str) -> (&Arc<str>, &Arc<str>) {
        match self.entries.iter().find(|entry| entry.path == path) {
            Some(entry) => (&entry.script, &entry.wasm),
            None => (&self.script, &self.wasm),
        }
    }
}

#[cfg(feature = "ssr")]
impl AssetNames {
    /// `hash_file` is the text of the hash file the release build writes
    /// beside the server's binary, one `kind: hash` line per file (`css: 0a1b…`),
    /// as `cargo leptos` writes it; empty when names are plain. The build
    /// adds a line per file of each single-page bundle (`signin.wasm: 4d5e…`,
    /// for `/pkg/selfserve-signin.4d5e….wasm`).
    pub fn of(options: &LeptosOptions, hash_file: &str) -> Self {
        let hash_of = |kind: &str| {
            hash_file.lines().find_map(|line| {
                let (file, hash) = line.trim().split_once(':')?;
                (file == kind).then(|| hash.trim())
            })
        };
        let root = options.site_pkg_dir.as_ref();
        let name = |kind: &str| {
            let mut name = options.output_name.to_string();
            let hash = hash_of(kind);
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
            Arc::from(format!("/{root}/{name}.{kind}"))
        };
        let entries = crate::entries::ENTRIES
            .iter()
            .filter(|_| options.hash_files)
            .filter_map(|&(entry, path)| {
                let file = |kind: &str| {
                    let hash = hash_of(&format!("{entry}.{kind}"))?;
                    let output = &options.output_name;
                    Some(Arc::from(format!("/{root}/{output}-{entry}.{hash}.{kind}")))
                };
                Some(EntryBundle {
                    path,
                    script: file("js")?,
                    wasm: file("wasm")?,
                })
            })
            .collect();
        Self {
            stylesheet: name("css"),
            script: name("js"),
            wasm: name("wasm"),
            entries,
        }
    }
}

/// The path of the page being rendered.
fn page_path() -> String {
    #[cfg(feature = "ssr")]
    if let Some(path) = crate::backend::ssr::with_request(|parts| parts.uri.path().to_owned()) {
        return path;
    }
    String::new()
}

/// The stylesheet, and the script that loads the WASM and hydrates the page.
/// The preloads let the browser fetch both while it parses the page; they
/// carry `crossorigin` so that they match the module import and the WASM
/// `fetch`, which are CORS requests, and are not fetched twice.
#[component]
pub fn Assets(names: AssetNames) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    let (script, wasm) = names.bundle_for(&page_path());
    let (script, wasm) = (script.clone(), wasm.clone());
    let loader = format!(
        "import({script:?}).then(m => m.default({{module_or_path: {wasm:?}}}).then(() => m.hydrate()));",
    );
    view! {
        <link rel="stylesheet" id="leptos" href=names.stylesheet />
        <link rel="modulepreload" href=script crossorigin="" />
        <link rel="preload" href=wasm r#as="fetch" r#type="application/wasm" crossorigin="" />
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
    fn a_page_with_its_own_bundle_loads_that_one() {
        let hashes = "js: 11aa\nwasm: 22bb\ncss: 33cc\nsignin.js: 44dd\nsignin.wasm: 55ee\n";
        let names = AssetNames::of(&options(true), hashes);
        let (script, wasm) = names.bundle_for("/signin");
        assert_eq!(&**script, "/pkg/selfserve-signin.44dd.js");
        assert_eq!(&**wasm, "/pkg/selfserve-signin.55ee.wasm");
        // The home page's bundle is not in this build: the whole app's.
        let (script, wasm) = names.bundle_for("/");
        assert_eq!(&**script, "/pkg/selfserve.11aa.js");
        assert_eq!(&**wasm, "/pkg/selfserve.22bb.wasm");
        assert_eq!(
            names.bundle_for("/signin/verify").0.as_ref(),
            "/pkg/selfserve.11aa.js"
        );
    }

    #[test]
    fn without_hashing_the_names_are_plain() {
        let names = AssetNames::of(&options(false), "js: 11aa\n");
        assert_eq!(&*names.stylesheet, "/pkg/selfserve.css");
        assert_eq!(&*names.script, "/pkg/selfserve.js");
        assert!(names.wasm.starts_with("/pkg/selfserve"), "{}", names.wasm);
        assert!(names.wasm.ends_with(".wasm"), "{}", names.wasm);
        assert!(names.entries.is_empty());
    }
}
