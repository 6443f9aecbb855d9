//! Tells the tests where GrowthBook's conformance corpus is: in
//! `../shared/conformance/` beside the checkout (CI has it there). It is
//! never copied into the project; the native test reads it at run time and
//! the browser test embeds it with `include_str!`, so a missing corpus is a
//! failure, never a silent skip.

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let cases = std::path::Path::new(&root).join("../shared/conformance/growthbook-cases.json");
    println!(
        "cargo:rustc-env=SILLAGE_CONFORMANCE_CASES={}",
        cases.display()
    );
    println!("cargo:rerun-if-changed={}", cases.display());
    println!("cargo:rerun-if-changed=build.rs");
}
