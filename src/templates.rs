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
        Ok(Templates { env })
    }

    pub fn render(&self, name: &str, context: minijinja::Value) -> Result<String, AppError> {
        let template = self.env.get_template(name).map_err(anyhow::Error::from)?;
        Ok(template.render(context).map_err(anyhow::Error::from)?)
    }
}
