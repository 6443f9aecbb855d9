//! How diagnostics reach the console. The shipped wasm holds each
//! diagnostic's code and arguments, not its sentence (see
//! [`crate::support::diag`]); the sentences are in the catalogue
//! (`sillage_messages.json`), which the SDK loads only when the config says
//! `"debug": true` or has errors, or a preview link cannot be honoured.
//! Until it arrives, diagnostics wait; if it
//! cannot load (or the shell has no URL for it), they are printed as
//! `path: code <hex> (arguments)`.

use super::{Effect, Sdk};
use crate::decide::condition::JsHost;
use crate::support::diag::{Diagnostic, SUGGESTION};
use crate::support::json::Json;

/// The catalogue of sentences.
#[derive(Clone, Debug, Default)]
pub(super) enum Catalogue {
    /// Not asked for.
    #[default]
    Idle,
    /// Asked for ([`Effect::LoadMessages`]): what waits for it, with what
    /// follows each.
    Loading(Vec<(Diagnostic, &'static str)>),
    /// Arrived: code (six hex digits) to sentence.
    Loaded(Json),
    /// Could not load, or no URL.
    Failed,
}

impl<H: JsHost> Sdk<H> {
    /// Asks for the catalogue once (a config with errors, `"debug": true`,
    /// a refused preview).
    pub(super) fn want_messages(&mut self) {
        if matches!(self.messages, Catalogue::Idle) {
            self.messages = match self.messages_url.clone() {
                Some(url) => {
                    self.effects.push_back(Effect::LoadMessages(url));
                    Catalogue::Loading(Vec::new())
                }
                None => Catalogue::Failed,
            }
        }
    }

    /// [`super::Input::Messages`]: the catalogue (or `None`); what waited is
    /// printed now, in order.
    pub(super) fn messages_arrived(&mut self, catalogue: Option<Json>) {
        let next = match catalogue {
            Some(c @ Json::Obj(_)) => Catalogue::Loaded(c),
            _ => Catalogue::Failed,
        };
        if let Catalogue::Loading(waiting) = std::mem::replace(&mut self.messages, next) {
            for (d, after) in &waiting {
                self.say(d, after);
            }
        }
    }

    /// Warns the diagnostic then `after`: in words if the catalogue is
    /// here, once it arrives if it is on its way, else as a code.
    pub(super) fn say(&mut self, d: &Diagnostic, after: &'static str) {
        let mut line = match &mut self.messages {
            Catalogue::Loading(waiting) => return waiting.push((d.clone(), after)),
            Catalogue::Loaded(cat) => {
                let text = |code: u32| {
                    let mut key = String::new();
                    crate::support::diag::push_code(&mut key, code);
                    cat.get(&key).and_then(Json::as_str)
                };
                d.render_with(text(d.tpl.code), text(SUGGESTION.code))
            }
            _ => Self::short(d),
        };
        line.push_str(after);
        self.warn(line);
    }

    /// A diagnostic without the catalogue: its own sentence where the build
    /// has them (native), else `path: code <hex> (arguments)`.
    fn short(d: &Diagnostic) -> String {
        #[cfg(feature = "text")]
        if !d.tpl.text.is_empty() {
            return d.render();
        }
        d.render_short()
    }

    /// Says `d` with `context` before its path (`context: path: message`).
    pub(super) fn say_in(&mut self, context: &str, d: &Diagnostic, after: &'static str) {
        let mut path = String::from(context);
        if !d.path.is_empty() {
            path.push_str(": ");
            path.push_str(&d.path);
        }
        let d = Diagnostic {
            path,
            tpl: d.tpl,
            args: d.args.clone(),
        };
        self.say(&d, after);
    }

    /// A diagnostic of the config, where it came from first.
    pub(super) fn say_config(&mut self, d: &Diagnostic) {
        let mut context = String::from("config (");
        context.push_str(&self.config_source);
        context.push(')');
        self.say_in(&context, d, "");
    }
}
