//! `sillage`: the site owner's command-line tool.

mod eval;
mod touchpoint;

const USAGE: &str = "usage: sillage <command> ...\n\ncommands:\n  eval CONDITION ATTRIBUTES [--groups SAVED_GROUPS] | eval --batch   evaluate a targeting condition\n  touchpoint URL [--referrer R] [--config C]   classify a landing (channel, source, medium, campaign)";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match args.get(1).map(String::as_str) {
        Some("eval") => eval::run(&args[2..]),
        Some("touchpoint") => touchpoint::run(&args[2..]),
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}
