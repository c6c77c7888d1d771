//! The HTML templates, compiled into the binary and rendered with minijinja
//! (auto-escaping on: only values marked `safe` were sanitised by us).

use minijinja::Environment;

use crate::error::AppError;

pub struct Templates {
    env: Environment<'static>,
}

/// Every template by the name pages render it by: the site's, the editor's
/// desk's and the API reference's (`admin/openapi.rs`).
const SOURCES: &[(&str, &str)] = &[
    ("base.html", include_str!("web/templates/base.html")),
    ("macros.html", include_str!("web/templates/macros.html")),
    ("index.html", include_str!("web/templates/index.html")),
    ("about.html", include_str!("web/templates/about.html")),
    ("profile.html", include_str!("web/templates/profile.html")),
    (
        "statement.html",
        include_str!("web/templates/statement.html"),
    ),
    ("tag.html", include_str!("web/templates/tag.html")),
    ("desk/base.html", include_str!("desk/templates/base.html")),
    (
        "desk/macros.html",
        include_str!("desk/templates/macros.html"),
    ),
    ("desk/login.html", include_str!("desk/templates/login.html")),
    (
        "desk/dashboard.html",
        include_str!("desk/templates/dashboard.html"),
    ),
    (
        "desk/statement_table.html",
        include_str!("desk/templates/statement_table.html"),
    ),
    (
        "desk/statements.html",
        include_str!("desk/templates/statements.html"),
    ),
    (
        "desk/compose.html",
        include_str!("desk/templates/compose.html"),
    ),
    (
        "desk/preview.html",
        include_str!("desk/templates/preview.html"),
    ),
    (
        "desk/settings.html",
        include_str!("desk/templates/settings.html"),
    ),
    (
        "desk/deliveries.html",
        include_str!("desk/templates/deliveries.html"),
    ),
    (
        "desk/organisations.html",
        include_str!("desk/templates/organisations.html"),
    ),
    (
        "desk/organisation.html",
        include_str!("desk/templates/organisation.html"),
    ),
    (
        "desk/moderation.html",
        include_str!("desk/templates/moderation.html"),
    ),
    ("admin/docs.html", include_str!("admin/templates/docs.html")),
];

impl Default for Templates {
    /// Each template is compiled when a page first needs it (minijinja's
    /// loader), then kept. Compiled all at start-up they held 0.8 MB of an
    /// idle server's heap, and a server that only federates may never render
    /// one (CHANGELOG.md, "Performance history").
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_loader(|name| {
            Ok(SOURCES
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, source)| source.to_string()))
        });
        Templates { env }
    }
}

impl Templates {
    pub fn render(&self, name: &str, context: minijinja::Value) -> Result<String, AppError> {
        let template = self.env.get_template(name).map_err(anyhow::Error::from)?;
        Ok(template.render(context).map_err(anyhow::Error::from)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every template file is compiled in, and compiles: one left out or
    /// broken fails here, not on the first page that includes it.
    #[test]
    fn every_template_file_is_registered_and_compiles() {
        let templates = Templates::default();
        for dir in ["web", "desk", "admin"] {
            let path = format!("{}/src/{dir}/templates", env!("CARGO_MANIFEST_DIR"));
            for entry in std::fs::read_dir(path).unwrap() {
                let file = entry.unwrap().file_name().into_string().unwrap();
                let name = match dir {
                    "web" => file.clone(),
                    _ => format!("{dir}/{file}"),
                };
                if let Err(err) = templates.env.get_template(&name) {
                    panic!(
                        "{name} is not registered in templates.rs, or does not compile: {err:#}"
                    );
                }
            }
        }
    }
}
