//! `sillage`: the site owner's command-line tool.

fn main() {
    eprintln!("usage: sillage <command> ...");
    std::process::exit(2);
}
