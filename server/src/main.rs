//! The `selfserve` binary: serves the dashboard, and lets operators manage users.

use clap::{Parser, Subcommand};
use leptos::prelude::LeptosOptions;
use server::config::{Config, MfaMethod};
use server::{db::Db, users, AppState};
use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "selfserve",
    about = "Selfserve: the My Account dashboard of an identity server"
)]
struct Cli {
    /// The configuration file (TOML).
    #[arg(long, env = "SELFSERVE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Create a demo account on first start and print how to sign in.
    #[arg(long, env = "SELFSERVE_DEMO")]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard (the default).
    Serve,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the keys that sign consent receipts (and, with --id-tokens, ID tokens).
    #[command(subcommand)]
    SigningKey(SigningKeyCommand),
    /// Manage OpenID Connect clients: applications that sign their users in
    /// through Selfserve. Those of the configuration file are listed too.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Measure raw argon2id hashes per second on every core (for scripts/bench.sh).
    BenchHashing,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Add a client. A confidential one's secret is printed once, here.
    Add {
        /// The client id (letters, digits, - and _).
        id: String,
        /// The name users see when signing in to it.
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Where codes may be sent (exact match); repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where users may be sent after signing out; repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A browser or native application: no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// A scope it may ask for; repeat for several (default: openid, profile, email).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Where users open it (https); with one, it is listed on the Applications page.
        #[arg(long)]
        access_url: Option<String>,
    },
    /// List the clients, from the configuration file and the database.
    List,
    /// Give a confidential client a new secret (printed once); the old one stops working.
    RotateSecret { id: String },
    /// Remove a client added with `client add`.
    Remove { id: String },
}

#[derive(Subcommand)]
enum SigningKeyCommand {
    /// Create a new key; every node signs with it from now on. Earlier keys
    /// stay published, so what they signed still verifies.
    Rotate {
        /// The key set of ID tokens (OpenID Connect) rather than of consent receipts.
        #[arg(long)]
        id_tokens: bool,
    },
    /// List the keys, the one in use first.
    List {
        /// The key set of ID tokens rather than of consent receipts.
        #[arg(long)]
        id_tokens: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user. The password is read from standard input (one line), or
    /// from the variable named by --password-env; never from the command line.
    Add {
        username: String,
        #[arg(long, default_value = "")]
        role: String,
        #[arg(long)]
        password_env: Option<String>,
    },
    /// Set a user's password (ends all of the user's sessions).
    SetPassword {
        username: String,
        #[arg(long)]
        password_env: Option<String>,
    },
    /// List users.
    List,
    /// Remove a user with everything that belongs to the account: its
    /// sessions end, and its grants, receipts and associations go.
    Remove { username: String },
    /// Give a user a role (held for approval when role assignment is engaged
    /// to a workflow).
    GrantRole { username: String, role: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("selfserve: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = Config::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    let db = Db::connect(&config.database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(db, config, cli.demo).await,
        Command::User(command) => user_command(&db, &config, command).await,
        Command::SigningKey(command) => signing_key_command(&db, &config, command).await,
        Command::Client(command) => client_command(&db, &config, command).await,
        Command::BenchHashing => {
            let rate = tokio::task::spawn_blocking(|| server::hashing::bench(5.0))
                .await
                .map_err(|e| e.to_string())?;
            println!("{rate:.1} argon2id hashes/s");
            Ok(())
        }
    }
}

fn read_password(password_env: Option<String>) -> Result<String, String> {
    if let Some(name) = password_env {
        return std::env::var(&name).map_err(|_| format!("the variable {name} is not set"));
    }
    if std::io::stdin().is_terminal() {
        eprintln!("Password (input is shown; prefer piping it in):");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_to_string(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn user_command(db: &Db, config: &Config, command: UserCommand) -> Result<(), String> {
    match command {
        UserCommand::Add {
            username,
            role,
            password_env,
        } => {
            let name = users::Username::parse(&username)?;
            let password = read_password(password_env)?;
            check_policy(config, &password, name.as_str())?;
            let hash = server::password::hash_password(password).await;
            users::create(db, &name, &hash, role.trim())
                .await
                .map_err(|e| e.to_string())?;
            println!("Added user {}.", name.as_str());
        }
        UserCommand::SetPassword {
            username,
            password_env,
        } => {
            let name = users::Username::parse(&username)?;
            let password = read_password(password_env)?;
            check_policy(config, &password, name.as_str())?;
            let hash = server::hashing::hash_password(password).await;
            users::set_password(db, &name, &hash)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "Password set for {}; their sessions were ended.",
                name.as_str()
            );
        }
        UserCommand::GrantRole { username, role } => {
            let name = users::Username::parse(&username)?;
            let role = role.trim();
            if role.is_empty() {
                return Err("the role must not be empty".into());
            }
            let account = users::credentials(db, &name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("there is no user named {}", name.as_str()))?;
            if let Some(workflow) =
                config.workflow(app::approvals::WorkflowOperation::RoleAssignment)
            {
                let mut tx = db.pool.begin().await.map_err(|e| e.to_string())?;
                let id = server::approvals::submit(
                    &mut tx,
                    workflow,
                    server::approvals::NewRequest {
                        operation: app::approvals::WorkflowOperation::RoleAssignment,
                        subject: &format!("Role {role} for {}", name.as_str()),
                        description: "An operator asks to give a user a role.",
                        initiator: "operator",
                        target_user_id: Some(account.id),
                        properties: &serde_json::json!({ "Username": name.as_str(), "Role": role }),
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())?;
                // Open Pending Approvals pages learn of it (across processes
                // on PostgreSQL; on SQLite they see it at their next load).
                server::approvals::announce(db, &id).await;
                println!("The role assignment awaits approval (request {id}).");
            } else {
                users::grant_role(db, account.id, role)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{} now has the role {role}.", name.as_str());
            }
        }
        UserCommand::Remove { username } => {
            let name = users::Username::parse(&username)?;
            if !users::remove(db, &name).await.map_err(|e| e.to_string())? {
                return Err(format!("there is no user named {}", name.as_str()));
            }
            println!("Removed user {}.", name.as_str());
        }
        UserCommand::List => {
            let all = users::list(db).await.map_err(|e| e.to_string())?;
            if all.is_empty() {
                println!("No users yet. Add one with: selfserve user add <username>");
            }
            for user in all {
                println!(
                    "{}\t{}\t{}",
                    user.username,
                    user.roles.join(","),
                    user.email
                );
            }
        }
    }
    Ok(())
}

async fn client_command(db: &Db, config: &Config, command: ClientCommand) -> Result<(), String> {
    use server::config::clients::{default_scopes, AccessUrl, ClientId, RedirectUri, Scope};
    use server::oidc::{self, ClientKind, ClientSource, NewClient};
    let uris = |raw: Vec<String>| -> Result<Vec<RedirectUri>, String> {
        raw.iter().map(|uri| RedirectUri::parse(uri)).collect()
    };
    match command {
        ClientCommand::Add {
            id,
            name,
            description,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            scopes,
            access_url,
        } => {
            let scopes = if scopes.is_empty() {
                default_scopes()
            } else {
                scopes
                    .iter()
                    .map(|scope| Scope::parse(scope))
                    .collect::<Result<_, _>>()?
            };
            let client = NewClient {
                id: ClientId::parse(&id)?,
                name,
                description,
                redirect_uris: uris(redirect_uris)?,
                post_logout_redirect_uris: uris(post_logout_redirect_uris)?,
                kind: if public {
                    ClientKind::Public
                } else {
                    ClientKind::Confidential
                },
                scopes,
                access_url: access_url.as_deref().map(AccessUrl::parse).transpose()?,
            };
            match oidc::add(db, config, client)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(secret) => {
                    println!("Added confidential client {id}. Its secret, shown only this once:");
                    println!("{}", secret.expose());
                }
                None => println!("Added public client {id} (no secret: it must use PKCE)."),
            }
        }
        ClientCommand::List => {
            let clients = oidc::all(db, config).await.map_err(|e| e.to_string())?;
            if clients.is_empty() {
                println!("No clients. Add one with `selfserve client add`, or give an application redirect_uris in the configuration file.");
            }
            for client in clients {
                let has_secret = oidc::has_secret(db, client.id.as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                let kind = match (client.kind, has_secret) {
                    (ClientKind::Public, _) => "public",
                    (ClientKind::Confidential, true) => "confidential",
                    (ClientKind::Confidential, false) => {
                        "confidential, no secret yet (rotate-secret sets one)"
                    }
                };
                let source = match client.source {
                    ClientSource::Configuration => "configuration file",
                    ClientSource::Database => "added with the CLI",
                };
                let scopes: Vec<_> = client.scopes.iter().map(|s| s.as_str()).collect();
                let redirects: Vec<_> = client.redirect_uris.iter().map(|u| u.as_str()).collect();
                let opens = client
                    .access_url
                    .as_ref()
                    .map(|url| format!("\topens at: {}", url.as_str()))
                    .unwrap_or_default();
                println!(
                    "{}\t{}\t{kind}\t{source}\tscopes: {}\tredirect URIs: {}{opens}",
                    client.id,
                    client.name,
                    scopes.join(" "),
                    redirects.join(" ")
                );
            }
        }
        ClientCommand::RotateSecret { id } => {
            let secret = oidc::rotate_secret(db, config, &id)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "New secret for {id}, shown only this once (the previous one no longer works):"
            );
            println!("{}", secret.expose());
        }
        ClientCommand::Remove { id } => {
            oidc::remove(db, config, &id)
                .await
                .map_err(|e| e.to_string())?;
            println!("Removed client {id}.");
        }
    }
    Ok(())
}

async fn signing_key_command(
    db: &Db,
    config: &Config,
    command: SigningKeyCommand,
) -> Result<(), String> {
    use server::consent::{self, KeySet};
    let set = |id_tokens: bool| {
        if id_tokens {
            KeySet::IdTokens
        } else {
            KeySet::Receipts
        }
    };
    match command {
        SigningKeyCommand::Rotate { id_tokens } => {
            let set = set(id_tokens);
            let kid = consent::rotate_signing_key(db, config, set)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "New signing key {kid}: {} are signed with it from now on.",
                set.signs()
            );
            println!(
                "Earlier keys stay in the published key set, so their signatures still verify."
            );
        }
        SigningKeyCommand::List { id_tokens } => {
            let set = set(id_tokens);
            let keys = consent::signing_keys(db, set)
                .await
                .map_err(|e| e.to_string())?;
            if keys.is_empty() {
                println!(
                    "No signing key yet: one is created when {} are first signed.",
                    set.signs()
                );
            }
            for (n, key) in keys.iter().enumerate() {
                let stored = if key.encrypted {
                    "encrypted"
                } else {
                    "in the clear"
                };
                let in_use = if n == 0 { "\tin use" } else { "" };
                println!(
                    "{}\tcreated {}\t{stored}{in_use}",
                    key.kid,
                    server::time::rfc3339(key.created_at)
                );
            }
        }
    }
    Ok(())
}

fn check_policy(config: &Config, password: &str, username: &str) -> Result<(), String> {
    let feedback = server::password::evaluate(&config.password, password, &[username]);
    if feedback.acceptable {
        Ok(())
    } else {
        Err(format!("password refused: {}", feedback.problems.join(" ")))
    }
}

const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "purple-otter-sings-at-dawn";

async fn serve(db: Db, config: Config, demo: bool) -> Result<(), String> {
    if demo {
        let name = users::Username::parse(DEMO_USER)?;
        if users::credentials(&db, &name)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            let hash = server::password::hash_password(DEMO_PASSWORD.into()).await;
            users::create(&db, &name, &hash, "Demo user")
                .await
                .map_err(|e| e.to_string())?;
            println!("Demo mode: created the account \"{DEMO_USER}\".");
        }
    } else if users::count(&db).await.map_err(|e| e.to_string())? == 0 {
        println!(
            "No accounts exist yet. Add one with:\n  echo 'a long passphrase' | selfserve user add <username>"
        );
    }
    let mut options = leptos::config::get_configuration(None)
        .map_err(|e| format!("Leptos configuration: {e}"))?
        .leptos_options;
    if options.output_name.is_empty() {
        options.output_name = "selfserve".into();
    }
    // The release build (scripts/setup.sh) names assets by content hash and
    // writes hash.txt beside the binary; without it, names are plain.
    if std::env::var("LEPTOS_HASH_FILES").is_err() {
        options.hash_files = server::hash_file(&options).is_some_and(|file| file.exists());
    }
    let listen = listen_address(&config, &options);
    server::consent::Services::load(&db, &config)
        .await
        .map_err(|e| e.to_string())?
        .check_purposes(&config)?;
    // A missing or wrong secret stops the start here, not a user's request.
    let sealed = server::consent::prepare_signing_keys(&db, &config)
        .await
        .map_err(|e| e.to_string())?;
    if sealed > 0 {
        tracing::info!(
            keys = sealed,
            "encrypted receipt signing keys stored in the clear"
        );
    } else if config.consent.signing_key_secret.is_none() {
        tracing::warn!(
            "consent.signing_key_secret is not set: receipt signing keys are stored in the clear"
        );
    }
    let sealed = server::mfa::prepare_secrets(&db, &config)
        .await
        .map_err(|e| e.to_string())?;
    if sealed > 0 {
        tracing::info!(
            secrets = sealed,
            "encrypted authenticator app secrets stored in the clear"
        );
    } else if config.mfa.encryption_secret.is_none() && config.mfa.offers(MfaMethod::Totp) {
        tracing::warn!(
            "mfa.encryption_secret is not set: authenticator app secrets are stored in the clear"
        );
    }
    server::password::prepare();
    let backfilled = users::backfill_skeletons(&db)
        .await
        .map_err(|e| e.to_string())?;
    if backfilled > 0 {
        tracing::info!(
            accounts = backfilled,
            "recorded the look of existing usernames"
        );
    }
    let shared_config = std::sync::Arc::new(config.clone());
    server::jobs::spawn(db.clone(), shared_config);
    let public_url = config.public_url.clone();
    options.site_addr = listen;
    let events = db.events.clone();
    let app = server::router(AppState::new(db, config, options));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let listener = server::listener(listener);
    tracing::info!(%listen, "listening");
    println!("Selfserve is running. Open {public_url}");
    if demo {
        println!("Sign in as \"{DEMO_USER}\" with the password \"{DEMO_PASSWORD}\".");
    }
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        // Live streams never end by themselves: end them, or the graceful
        // shutdown would wait for them.
        events.close_streams();
    })
    .await
    .map_err(|e| e.to_string())
}

/// cargo-leptos tells the server where to listen through LEPTOS_SITE_ADDR;
/// otherwise the configuration decides.
fn listen_address(config: &Config, options: &LeptosOptions) -> SocketAddr {
    if std::env::var("LEPTOS_SITE_ADDR").is_ok() {
        options.site_addr
    } else {
        config.listen
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
