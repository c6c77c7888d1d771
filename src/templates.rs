//! The HTML templates, compiled into the binary and rendered with minijinja
//! (auto-escaping on: only values marked `safe` were sanitised by us).

use minijinja::Environment;

use crate::error::AppError;

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.add_template("base.html", include_str!("web/templates/base.html"))?;
        env.add_template("macros.html", include_str!("web/templates/macros.html"))?;
        env.add_template("index.html", include_str!("web/templates/index.html"))?;
        env.add_template("about.html", include_str!("web/templates/about.html"))?;
        env.add_template("profile.html", include_str!("web/templates/profile.html"))?;
        env.add_template(
            "statement.html",
            include_str!("web/templates/statement.html"),
        )?;
        env.add_template("tag.html", include_str!("web/templates/tag.html"))?;
        // The editor's desk.
        for (name, source) in [
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
            // The API reference (admin/openapi.rs).
            ("admin/docs.html", include_str!("admin/templates/docs.html")),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Templates { env })
    }

    pub fn render(&self, name: &str, context: minijinja::Value) -> Result<String, AppError> {
        let template = self.env.get_template(name).map_err(anyhow::Error::from)?;
        Ok(template.render(context).map_err(anyhow::Error::from)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every template file is compiled in: one left out fails here, not
    /// on the first page that includes it.
    #[test]
    fn every_template_file_is_registered() {
        let templates = Templates::new().expect("templates compile");
        for dir in ["web", "desk", "admin"] {
            let path = format!("{}/src/{dir}/templates", env!("CARGO_MANIFEST_DIR"));
            for entry in std::fs::read_dir(path).unwrap() {
                let file = entry.unwrap().file_name().into_string().unwrap();
                let name = match dir {
                    "web" => file.clone(),
                    _ => format!("{dir}/{file}"),
                };
                assert!(
                    templates.env.get_template(&name).is_ok(),
                    "{name} is not registered in templates.rs"
                );
            }
        }
    }
}
