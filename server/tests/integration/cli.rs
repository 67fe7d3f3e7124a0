//! The operator's command line, run as the real binary on a SQLite file.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn selfserve(db: &str, args: &[&str], stdin: &str) -> Output {
    selfserve_with(db, args, stdin, &[])
}

fn selfserve_with(db: &str, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_selfserve"))
        .args(args)
        .envs(env.iter().copied())
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run selfserve");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn add_list_and_set_password_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());

    let added = selfserve(
        &db,
        &["user", "add", "grace", "--role", "Auditor"],
        "ships in the harbour at night\n",
    );
    assert!(added.status.success(), "{}", text(&added));
    assert!(text(&added).contains("Added user grace."));

    let again = selfserve(
        &db,
        &["user", "add", "Grace"],
        "ships in the harbour at night\n",
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));

    let weak = selfserve(&db, &["user", "add", "linus"], "password\n");
    assert!(!weak.status.success());
    assert!(text(&weak).contains("password refused"), "{}", text(&weak));

    let bad_name = selfserve(
        &db,
        &["user", "add", "no spaces please"],
        "ships in the harbour at night\n",
    );
    assert!(!bad_name.status.success());
    assert!(
        text(&bad_name).contains("username may contain only"),
        "{}",
        text(&bad_name)
    );

    let list = selfserve(&db, &["user", "list"], "");
    assert!(list.status.success());
    let listed = text(&list);
    assert!(listed.contains("grace\tAuditor"), "{listed}");
    assert!(!listed.contains("linus"));

    // Removing a user removes the account; a second time says there is none.
    let ada = selfserve(
        &db,
        &["user", "add", "ada"],
        "ships in the harbour at night\n",
    );
    assert!(ada.status.success(), "{}", text(&ada));
    let removed = selfserve(&db, &["user", "remove", "ada"], "");
    assert!(
        text(&removed).contains("Removed user ada."),
        "{}",
        text(&removed)
    );
    assert!(!text(&selfserve(&db, &["user", "list"], "")).contains("ada"));
    let gone = selfserve(&db, &["user", "remove", "ada"], "");
    assert!(!gone.status.success());
    assert!(
        text(&gone).contains("there is no user named ada"),
        "{}",
        text(&gone)
    );

    // Every role a user holds is listed, not one of them.
    let granted = selfserve(&db, &["user", "grant-role", "grace", "Approver"], "");
    assert!(granted.status.success(), "{}", text(&granted));
    let listed = text(&selfserve(&db, &["user", "list"], ""));
    assert!(listed.contains("grace\tApprover,Auditor"), "{listed}");

    let missing = selfserve(
        &db,
        &["user", "set-password", "nobody"],
        "a fresh passphrase for nobody\n",
    );
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("there is no user named nobody"),
        "{}",
        text(&missing)
    );

    let set = selfserve(
        &db,
        &["user", "set-password", "grace"],
        "a fresh passphrase for grace\n",
    );
    assert!(set.status.success(), "{}", text(&set));
    // The account's pages say when the password was set: now.
    let changed_at: Option<i64> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = server::db::Db::connect(&db).await.unwrap();
        sqlx::query_scalar("SELECT password_changed_at FROM users WHERE username = 'grace'")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    });
    let age = server::time::now_ms() - changed_at.expect("recorded");
    assert!((0..60_000).contains(&age), "{age}");
}

#[test]
fn an_invalid_configuration_value_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let output = Command::new(env!("CARGO_BIN_EXE_selfserve"))
        .args(["user", "list"])
        .env("DATABASE_URL", &db)
        .env("SELFSERVE_LOCKOUT__MAX_FAILURES", "many")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = text(&output);
    assert!(message.contains("key `lockout.max_failures`"), "{message}");
}

#[test]
fn grant_role_is_held_when_role_assignment_needs_approval() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let config = dir.path().join("selfserve.toml");
    std::fs::write(
        &config,
        "[[workflows]]\noperation = \"role_assignment\"\nsteps = [\"Security\"]\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let added = selfserve(
        &db,
        &["user", "add", "grace"],
        "ships in the harbour at night\n",
    );
    assert!(added.status.success(), "{}", text(&added));

    let held = selfserve(
        &db,
        &["--config", config, "user", "grant-role", "grace", "Auditor"],
        "",
    );
    assert!(held.status.success(), "{}", text(&held));
    assert!(text(&held).contains("awaits approval"), "{}", text(&held));
    let list = selfserve(&db, &["user", "list"], "");
    assert!(
        !text(&list).contains("Auditor"),
        "not granted before approval: {}",
        text(&list)
    );

    // Without the workflow the role is granted at once.
    let direct = selfserve(&db, &["user", "grant-role", "grace", "Auditor"], "");
    assert!(
        text(&direct).contains("grace now has the role Auditor."),
        "{}",
        text(&direct)
    );
    let list = selfserve(&db, &["user", "list"], "");
    assert!(text(&list).contains("grace\tAuditor"), "{}", text(&list));

    let unknown = selfserve(&db, &["user", "grant-role", "nobody", "Auditor"], "");
    assert!(!unknown.status.success());
    assert!(text(&unknown).contains("there is no user named nobody"));
}

#[test]
fn signing_keys_are_listed_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());

    let empty = selfserve(&db, &["signing-key", "list"], "");
    assert!(empty.status.success(), "{}", text(&empty));
    assert!(
        text(&empty).contains("No signing key yet"),
        "{}",
        text(&empty)
    );

    let mut kids = Vec::new();
    for _ in 0..2 {
        let rotated = selfserve(&db, &["signing-key", "rotate"], "");
        assert!(rotated.status.success(), "{}", text(&rotated));
        let out = text(&rotated);
        let kid = out
            .strip_prefix("New signing key ")
            .and_then(|rest| rest.split(':').next())
            .unwrap_or_else(|| panic!("{out}"))
            .to_string();
        kids.push(kid);
    }
    assert_ne!(kids[0], kids[1]);

    // The newest is in use; the older one is still listed (and published).
    let listed = text(&selfserve(&db, &["signing-key", "list"], ""));
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines[0].starts_with(&kids[1]) && lines[0].ends_with("in the clear\tin use"));
    assert!(lines[1].starts_with(&kids[0]) && !lines[1].contains("in use"));

    // With a secret, a new key is stored encrypted.
    const SECRET: (&str, &str) = (
        "SELFSERVE_CONSENT__SIGNING_KEY_SECRET",
        "an operator's secret of 32 characters",
    );
    let sealed = selfserve_with(&db, &["signing-key", "rotate"], "", &[SECRET]);
    assert!(sealed.status.success(), "{}", text(&sealed));
    let listed = text(&selfserve(&db, &["signing-key", "list"], ""));
    let first = listed.lines().next().unwrap();
    assert!(first.ends_with("encrypted\tin use"), "{listed}");
    assert!(!listed.contains(SECRET.1));

    // Serving without it stops at once, naming the setting.
    let started = selfserve_with(
        &db,
        &[],
        "",
        &[
            ("SELFSERVE_LISTEN", "127.0.0.1:0"),
            ("LEPTOS_SITE_ROOT", "target/site"),
        ],
    );
    assert!(!started.status.success());
    assert!(
        text(&started).contains("set consent.signing_key_secret"),
        "{}",
        text(&started)
    );
}

#[test]
fn clients_are_added_listed_rotated_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let config = dir.path().join("selfserve.toml");
    std::fs::write(
        &config,
        "[[consent.applications]]\nid = \"shop\"\nname = \"Pet Shop\"\ndescription = \"Sells pet food.\"\n\
         redirect_uris = [\"https://shop.example/callback\"]\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", config, "client"];
        all.extend_from_slice(args);
        let output = selfserve(&db, &all, "");
        (output.status.success(), text(&output))
    };
    // The secret is the last line, 256 bits in base64url.
    let secret_in = |out: &str| out.trim_end().lines().last().unwrap().to_string();

    let (ok, out) = run(&[
        "add",
        "billing",
        "--name",
        "Billing",
        "--redirect-uri",
        "https://billing.example/cb",
        "--scope",
        "openid",
        "--scope",
        "email",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("shown only this once"), "{out}");
    let first = secret_in(&out);
    assert_eq!(first.len(), 43, "{out}");

    let (ok, out) = run(&[
        "add",
        "spa",
        "--name",
        "Single page",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:5173/cb",
    ]);
    assert!(ok && out.contains("no secret: it must use PKCE"), "{out}");

    // Where users open it: https only, said clearly, and nothing added.
    let add_wiki = |access_url: &str| {
        run(&[
            "add",
            "wiki",
            "--name",
            "Wiki",
            "--public",
            "--redirect-uri",
            "https://wiki.example/cb",
            "--access-url",
            access_url,
        ])
    };
    let (ok, out) = add_wiki("http://wiki.example/");
    assert!(
        !ok && out.contains("access URL \"http://wiki.example/\" uses http"),
        "{out}"
    );
    let (ok, out) = add_wiki("https://wiki.example/start");
    assert!(ok, "{out}");

    let (ok, out) = run(&["list"]);
    assert!(ok, "{out}");
    let line = |id: &str| {
        out.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("shop\t").contains("configuration file"), "{out}");
    assert!(line("shop\t").contains("no secret yet"), "{out}");
    assert!(
        line("billing\t").contains("confidential\tadded with the CLI\tscopes: openid email"),
        "{out}"
    );
    assert!(line("spa\t").contains("public"), "{out}");
    assert!(!line("spa\t").contains("opens at"), "{out}");
    assert!(
        line("wiki\t").ends_with("opens at: https://wiki.example/start"),
        "{out}"
    );
    assert!(!out.contains(&first), "a secret is never listed");

    // Refusals say what is wrong and change nothing.
    for (args, expected) in [
        (
            vec![
                "add",
                "billing",
                "--name",
                "B",
                "--redirect-uri",
                "https://b.example/cb",
            ],
            "already exists",
        ),
        (
            vec![
                "add",
                "shop",
                "--name",
                "B",
                "--redirect-uri",
                "https://b.example/cb",
            ],
            "already exists",
        ),
        (
            vec![
                "add",
                "web",
                "--name",
                "W",
                "--redirect-uri",
                "http://web.example/cb",
            ],
            "uses http",
        ),
        (
            vec![
                "add",
                "web",
                "--name",
                "W",
                "--redirect-uri",
                "https://web.example/cb#top",
            ],
            "fragment",
        ),
        (
            vec![
                "add",
                "web",
                "--name",
                "W",
                "--redirect-uri",
                "https://web.example/cb",
                "--scope",
                "admin",
            ],
            "unknown scope",
        ),
        (
            vec![
                "add",
                "web",
                "--name",
                "W",
                "--redirect-uri",
                "https://web.example/cb",
                "--scope",
                "email",
            ],
            "must include openid",
        ),
        (
            vec![
                "add",
                "web.app",
                "--name",
                "W",
                "--redirect-uri",
                "https://web.example/cb",
            ],
            "not a valid client id",
        ),
        (vec!["rotate-secret", "spa"], "is public"),
        (
            vec!["rotate-secret", "nobody"],
            "no client has the id nobody",
        ),
        (vec!["remove", "shop"], "defined in the configuration file"),
        (vec!["remove", "nobody"], "no client has the id nobody"),
    ] {
        let (ok, out) = run(&args);
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(out.contains(expected), "{args:?}: {out}");
    }
    let (_, listed) = run(&["list"]);
    assert!(!listed.contains("\tW\t"), "{listed}");

    let (ok, out) = run(&["rotate-secret", "billing"]);
    assert!(ok, "{out}");
    assert_ne!(secret_in(&out), first);
    // A configured client gets its secret the same way.
    let (ok, out) = run(&["rotate-secret", "shop"]);
    assert!(ok, "{out}");
    let (_, listed) = run(&["list"]);
    assert!(!listed.contains("no secret yet"), "{listed}");

    let (ok, out) = run(&["remove", "billing"]);
    assert!(ok && out.contains("Removed client billing."), "{out}");
    let (_, listed) = run(&["list"]);
    assert!(!listed.contains("billing"), "{listed}");
}

#[test]
fn id_token_keys_are_a_set_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let run = |args: &[&str]| text(&selfserve(&db, args, ""));
    assert!(
        run(&["signing-key", "list", "--id-tokens"]).contains("when ID tokens are first signed")
    );
    let rotated = run(&["signing-key", "rotate", "--id-tokens"]);
    assert!(
        rotated.contains("ID tokens are signed with it from now on"),
        "{rotated}"
    );
    let kid = rotated
        .split_whitespace()
        .nth(3)
        .unwrap()
        .trim_end_matches(':');
    assert!(run(&["signing-key", "list", "--id-tokens"]).contains(kid));
    assert!(
        !run(&["signing-key", "list"]).contains(kid),
        "the receipt keys are apart"
    );
}
