//! Statement files: Markdown with YAML front matter, the way editors keep
//! statements in a folder or a repository.
//!
//! ```text
//! ---
//! title: Declaration about Kazakhstan
//! signatories: [stop_total_control, cras]
//! original_date: 2022-01-13
//! ---
//! We, Anarcho-syndicalists and Anarchists of Russia …
//! ```
//!
//! The front matter's keys are the fields of the API's own request type
//! (`services::statements::Draft`), and the Markdown after it is the body:
//! a file is turned into that type by serde, so the CLI cannot accept a
//! field the API does not know or drift from it. Every error names the
//! file, the line and the field.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::client::{ApiError, Failure};
use crate::{
    services::statements::{Changes, Draft},
    statements::Content,
};

/// The most a statement file may weigh: the API caps bodies well below.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A statement file, read and split.
pub struct StatementFile {
    pub path: PathBuf,
    /// The front matter as JSON, in the API's field names.
    front: Map<String, Value>,
    /// The body (Markdown), trimmed.
    body: String,
    /// Each front-matter line (1-based line number, text), to find fields.
    front_lines: Vec<(usize, String)>,
    /// The line the body starts on.
    body_line: usize,
}

impl StatementFile {
    pub fn read(path: &Path) -> Result<StatementFile, Failure> {
        let shown = path.display();
        let size = std::fs::metadata(path)
            .map_err(|err| Failure::Refused(format!("{shown}: {err}")))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(Failure::Refused(format!(
                "{shown}: {size} bytes; a statement file may have at most {MAX_FILE_BYTES}"
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|err| Failure::Refused(format!("{shown}: {err}")))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<StatementFile, Failure> {
        let refuse = |line: usize, message: String| {
            Failure::Refused(format!("{}:{line}: {message}", path.display()))
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.split_inclusive('\n');
        if lines.next().map(|l| l.trim_end()) != Some("---") {
            return Err(refuse(
                1,
                "a statement file starts with front matter: a line `---`, the fields in YAML, and `---` again".into(),
            ));
        }
        let mut front_lines = Vec::new();
        let mut front_text = String::new();
        let mut closed_at = None;
        for (i, line) in lines.by_ref().enumerate() {
            let number = i + 2;
            if matches!(line.trim_end(), "---" | "...") {
                closed_at = Some(number);
                break;
            }
            front_text.push_str(line);
            front_lines.push((number, line.trim_end().to_string()));
        }
        let Some(closed_at) = closed_at else {
            return Err(refuse(
                1,
                "the front matter has no closing `---` line".into(),
            ));
        };
        let rest: String = lines.collect();
        let leading_blank = rest.lines().take_while(|l| l.trim().is_empty()).count();
        let body_line = closed_at + 1 + leading_blank;
        let front: Value = if front_text.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_yaml_ng::from_str(&front_text).map_err(|err| {
                let line = err.location().map(|l| l.line() + 1).unwrap_or(2);
                refuse(line, format!("front matter: {err}"))
            })?
        };
        let Value::Object(front) = front else {
            return Err(refuse(
                2,
                "the front matter must be `field: value` lines".into(),
            ));
        };
        if front.contains_key("body") {
            let line = find_key(&front_lines, "body").unwrap_or(2);
            return Err(refuse(
                line,
                "body: the statement's text goes after the front matter, not in it".into(),
            ));
        }
        Ok(StatementFile {
            path: path.to_path_buf(),
            front,
            body: rest.trim().to_string(),
            front_lines,
            body_line,
        })
    }

    /// The statement as the API's `Draft` (not published: the caller says).
    pub fn draft(&self) -> Result<Draft, Failure> {
        let mut fields = self.front.clone();
        fields.insert("body".into(), Value::String(self.body.clone()));
        self.typed(fields)
    }

    /// The file as changes to an existing statement: the file is the whole
    /// statement, so an optional field it leaves out is cleared. Its
    /// signatories are not changes (see `signatories`), nor is `publish_at`
    /// once `published`.
    pub fn changes(&self, published: bool) -> Result<Changes, Failure> {
        let mut fields = self.front.clone();
        fields.remove("signatories");
        if published {
            fields.remove("publish_at");
        }
        // What clears each optional field (`null`, `[]`, `{}`) is what the
        // changes to empty content say: the required texts stay as they are.
        if let Ok(Value::Object(cleared)) =
            serde_json::to_value(Changes::replacing(Content::default()))
        {
            for (name, value) in cleared {
                if !value.is_string() {
                    fields.entry(name).or_insert(value);
                }
            }
        }
        fields.insert("body".into(), Value::String(self.body.clone()));
        self.typed(fields)
    }

    /// The signatories the file names, as handles.
    pub fn signatories(&self) -> Vec<String> {
        self.front
            .get("signatories")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the front matter asks for a scheduled publication.
    pub fn scheduled(&self) -> bool {
        self.front.get("publish_at").is_some_and(|v| !v.is_null())
    }

    /// The key an import stores this file under: its name without `.md`.
    pub fn key(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn typed<T: DeserializeOwned>(&self, fields: Map<String, Value>) -> Result<T, Failure> {
        serde_path_to_error::deserialize(Value::Object(fields)).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner().to_string();
            // serde names an unknown or missing field in backticks; an
            // invalid value is named by its path.
            let field = match backticked(&inner) {
                Some(named) if inner.starts_with("unknown field") => named,
                Some(named) if inner.starts_with("missing field") => named,
                _ => path,
            };
            let hint = if inner.starts_with("unknown field") {
                " (fields: title, signatories, language, original_date, tags, format, summary, content_warning, disclaimer, quote_policy, publish_at, translations)"
            } else {
                ""
            };
            Failure::Refused(format!(
                "{}: {}{hint}",
                self.place(&field),
                if field == "." || field.is_empty() {
                    inner
                } else {
                    format!("{field}: {inner}")
                }
            ))
        })
    }

    /// `file:line` for a field the API named (`signatories[1]`, `title`,
    /// `body`); the front matter's first line when the field is not in it.
    pub fn place(&self, field: &str) -> String {
        let line = self.line_of(field);
        format!("{}:{line}", self.path.display())
    }

    fn line_of(&self, field: &str) -> usize {
        let (key, index) = match field.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (field.split('.').next().unwrap_or(field), None),
        };
        if key == "body" {
            return self.body_line;
        }
        let Some(at) = find_key(&self.front_lines, key) else {
            return 1;
        };
        // A block list (`- cras` lines under the key): its n-th item.
        if let Some(n) = index {
            let items: Vec<usize> = self
                .front_lines
                .iter()
                .skip_while(|(number, _)| *number <= at)
                .take_while(|(_, text)| text.starts_with(' ') || text.starts_with('-'))
                .filter(|(_, text)| text.trim_start().starts_with('-'))
                .map(|(number, _)| *number)
                .collect();
            if let Some(line) = items.get(n) {
                return *line;
            }
        }
        at
    }

    /// The API's refusal of this file, placed at the field's line.
    pub fn refusal(&self, err: ApiError) -> Failure {
        let place = match &err.field {
            Some(field) => self.place(field),
            None => self.path.display().to_string(),
        };
        err.into_failure(Some(place))
    }
}

/// The line of a top-level `key:` in the front matter.
fn find_key(lines: &[(usize, String)], key: &str) -> Option<usize> {
    lines.iter().find_map(|(number, text)| {
        let rest = text.strip_prefix(key)?;
        rest.trim_start().starts_with(':').then_some(*number)
    })
}

fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

/// The statement files of a folder (`*.md`), by name.
pub fn statement_files(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| Failure::Refused(format!("{}: {err}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "---\n\
title: Declaration about Kazakhstan\n\
signatories:\n\
  - stop_total_control\n\
  - cras\n\
original_date: 2022-01-13\n\
tags: [Kazakhstan, solidarity]\n\
---\n\
\n\
We, Anarcho-syndicalists …\n";

    fn file(text: &str) -> Result<StatementFile, Failure> {
        StatementFile::parse(Path::new("declaration.md"), text)
    }

    #[test]
    fn front_matter_becomes_the_api_draft() {
        let parsed = file(FILE).unwrap();
        let draft = parsed.draft().unwrap();
        assert_eq!(draft.title, "Declaration about Kazakhstan");
        assert_eq!(draft.signatories, ["stop_total_control", "cras"]);
        assert_eq!(draft.original_date.as_deref(), Some("2022-01-13"));
        assert_eq!(draft.tags, ["Kazakhstan", "solidarity"]);
        assert_eq!(draft.body, "We, Anarcho-syndicalists …");
        assert!(!draft.publish);
        assert_eq!(parsed.key(), "declaration");
    }

    #[test]
    fn fields_are_placed_on_their_lines() {
        let parsed = file(FILE).unwrap();
        assert_eq!(parsed.place("title"), "declaration.md:2");
        assert_eq!(parsed.place("signatories[1]"), "declaration.md:5");
        assert_eq!(parsed.place("original_date"), "declaration.md:6");
        assert_eq!(parsed.place("body"), "declaration.md:10");
        assert_eq!(parsed.place("summary"), "declaration.md:1");
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_line() {
        let text = FILE.replace("tags:", "tagz:");
        let err = file(&text).unwrap().draft().err().unwrap().to_string();
        assert!(
            err.starts_with("declaration.md:7: tagz: unknown field"),
            "{err}"
        );
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let text = FILE.replace("title: Declaration about Kazakhstan", "title: [1, 2]");
        let err = file(&text).unwrap().draft().err().unwrap().to_string();
        assert!(
            err.starts_with("declaration.md:2: title: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn yaml_errors_carry_the_file_line() {
        let text = FILE.replace("original_date: 2022-01-13", "original_date: [2022");
        let err = file(&text).err().unwrap().to_string();
        assert!(err.starts_with("declaration.md:"), "{err}");
        let line: usize = err.split(':').nth(1).unwrap().parse().unwrap();
        assert!((6..=8).contains(&line), "{err}");
    }

    #[test]
    fn files_without_front_matter_or_end_are_refused() {
        assert!(file("Just text\n").is_err());
        assert!(file("---\ntitle: x\nno end\n").is_err());
        assert!(file("---\nbody: x\n---\ntext\n").is_err());
    }

    #[test]
    fn changes_clear_what_the_file_leaves_out() {
        let parsed = file(FILE).unwrap();
        let changes = serde_json::to_value(parsed.changes(true).unwrap()).unwrap();
        assert_eq!(changes["summary"], Value::Null);
        assert_eq!(changes["title"], "Declaration about Kazakhstan");
        assert!(changes.get("signatories").is_none());
        assert!(changes.get("format").is_none());
    }
}
