//! Client-side rendering for the `trunk serve` UI loop: no server rendering;
//! server functions reach a running server through Trunk's proxy.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
    frontend::mark_interactive();
}
