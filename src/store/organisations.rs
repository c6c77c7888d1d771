//! Organisations: rows, lookups by handle, soft deletion (handles are never reused).

use super::{Store, StoreError, StoreResult, now_ms, on_pool, on_writer};
use crate::{
    keys::PrivateKey,
    organisations::{Organisation, Profile, ProfileField},
};

#[derive(sqlx::FromRow)]
struct OrganisationRow {
    id: i64,
    handle: String,
    name: String,
    summary: String,
    website: Option<String>,
    fields: String,
    avatar_url: Option<String>,
    header_url: Option<String>,
    manually_approves_followers: bool,
    discoverable: bool,
    indexable: bool,
    approve_replies: bool,
    public_key_pem: String,
    private_key_pem: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<OrganisationRow> for Organisation {
    type Error = StoreError;

    fn try_from(row: OrganisationRow) -> StoreResult<Organisation> {
        let fields: Vec<ProfileField> = serde_json::from_str(&row.fields)
            .map_err(|e| StoreError::Corrupt(format!("organisation {} fields: {e}", row.id)))?;
        Ok(Organisation {
            id: row.id,
            handle: row.handle,
            profile: Profile {
                name: row.name,
                summary: row.summary,
                website: row.website,
                fields,
                avatar_url: row.avatar_url,
                header_url: row.header_url,
                manually_approves_followers: row.manually_approves_followers,
                discoverable: row.discoverable,
                indexable: row.indexable,
                approve_replies: row.approve_replies,
            },
            public_key_pem: row.public_key_pem,
            private_key: PrivateKey::from_pem(row.private_key_pem),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The columns of [`OrganisationRow`], as a literal for `concat!`.
macro_rules! columns {
    () => {
        "id, handle, name, summary, website, fields, avatar_url, header_url, \
         manually_approves_followers, discoverable, indexable, approve_replies, public_key_pem, \
         private_key_pem, created_at, updated_at"
    };
}

/// A new organisation, validated, with its freshly generated keys.
pub struct NewOrganisation {
    pub handle: String,
    pub profile: Profile,
    pub public_key_pem: String,
    pub private_key: PrivateKey,
}

fn fields_json(fields: &[ProfileField]) -> String {
    serde_json::to_string(fields).expect("profile fields serialise")
}

impl Store {
    /// Stores a new organisation. [`StoreError::Conflict`] when the handle is
    /// taken, now or by a deleted organisation.
    pub async fn create_organisation(&self, new: NewOrganisation) -> StoreResult<Organisation> {
        let now = now_ms();
        let p = &new.profile;
        let sql = concat!(
            "INSERT INTO organisations (handle, handle_key, name, summary, website, fields, \
             avatar_url, header_url, manually_approves_followers, discoverable, indexable, \
             public_key_pem, private_key_pem, created_at, updated_at, approve_replies) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15) \
             RETURNING ",
            columns!(),
            ""
        );
        let row: OrganisationRow = on_writer!(self, |pool| {
            sqlx::query_as(sql)
                .bind(&new.handle)
                .bind(new.handle.to_ascii_lowercase())
                .bind(&p.name)
                .bind(&p.summary)
                .bind(&p.website)
                .bind(fields_json(&p.fields))
                .bind(&p.avatar_url)
                .bind(&p.header_url)
                .bind(p.manually_approves_followers)
                .bind(p.discoverable)
                .bind(p.indexable)
                .bind(&new.public_key_pem)
                .bind(new.private_key.expose_pem())
                .bind(now)
                .bind(p.approve_replies)
                .fetch_one(&mut *pool)
                .await
        })?;
        row.try_into()
    }

    /// A live organisation by handle, case-insensitively: this process's
    /// copy when it is at most `cache::MAX_AGE` old.
    pub async fn organisation(&self, handle: &str) -> StoreResult<Organisation> {
        let key = handle.to_ascii_lowercase();
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM organisations WHERE handle_key = $1 AND deleted_at IS NULL"
        );
        self.cache
            .organisations
            .get_or_read(key.clone(), async {
                let row: OrganisationRow = on_pool!(self, |pool| {
                    sqlx::query_as(sql).bind(&key).fetch_one(&mut *pool).await
                })?;
                row.try_into()
            })
            .await
    }

    /// Whether a handle belonged to an organisation that was deleted: its
    /// actor URL then answers 410 Gone, and WebFinger too.
    pub async fn organisation_was_deleted(&self, handle: &str) -> StoreResult<bool> {
        let found: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM organisations WHERE handle_key = $1 AND deleted_at IS NOT NULL",
            )
            .bind(handle.to_ascii_lowercase())
            .fetch_optional(&mut *pool)
            .await
        })?;
        Ok(found.is_some())
    }

    /// The signatories of a statement, lead first. Deleted organisations
    /// stay on the statements they signed.
    pub async fn signatories_of(&self, statement_id: i64) -> StoreResult<Vec<Organisation>> {
        let rows: Vec<OrganisationRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT o.id, o.handle, o.name, o.summary, o.website, o.fields, o.avatar_url, o.header_url, \
                 o.manually_approves_followers, o.discoverable, o.indexable, o.approve_replies, o.public_key_pem, \
                 o.private_key_pem, o.created_at, o.updated_at \
                 FROM statement_signatories ss JOIN organisations o ON o.id = ss.organisation_id \
                 WHERE ss.statement_id = $1 ORDER BY ss.position",
            )
            .bind(statement_id)
            .fetch_all(&mut *pool)
            .await
        })?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The signatories of several statements in one query, lead first,
    /// keyed by statement id: a page of statements costs two queries.
    pub async fn signatories_of_many(
        &self,
        statement_ids: &[i64],
    ) -> StoreResult<std::collections::HashMap<i64, Vec<Organisation>>> {
        let mut by_statement: std::collections::HashMap<i64, Vec<Organisation>> =
            std::collections::HashMap::with_capacity(statement_ids.len());
        if statement_ids.is_empty() {
            return Ok(by_statement);
        }
        #[derive(sqlx::FromRow)]
        struct Signed {
            statement_id: i64,
            #[sqlx(flatten)]
            organisation: OrganisationRow,
        }
        let placeholders: Vec<String> =
            (1..=statement_ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT ss.statement_id, o.id, o.handle, o.name, o.summary, o.website, o.fields, o.avatar_url, \
             o.header_url, o.manually_approves_followers, o.discoverable, o.indexable, o.approve_replies, \
             o.public_key_pem, o.private_key_pem, o.created_at, o.updated_at \
             FROM statement_signatories ss JOIN organisations o ON o.id = ss.organisation_id \
             WHERE ss.statement_id IN ({}) ORDER BY ss.statement_id, ss.position",
            placeholders.join(", ")
        );
        let rows: Vec<Signed> = on_pool!(self, |pool| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in statement_ids {
                query = query.bind(id);
            }
            query.fetch_all(&mut *pool).await
        })?;
        for row in rows {
            by_statement
                .entry(row.statement_id)
                .or_default()
                .push(row.organisation.try_into()?);
        }
        Ok(by_statement)
    }

    /// Every live organisation, by handle.
    pub async fn organisations(&self) -> StoreResult<Vec<Organisation>> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM organisations WHERE deleted_at IS NULL ORDER BY handle_key"
        );
        let rows: Vec<OrganisationRow> =
            on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(&mut *pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub async fn count_organisations(&self) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM organisations WHERE deleted_at IS NULL")
                .fetch_one(&mut *pool)
                .await
        })?)
    }

    /// The handle and key of an organisation, deleted or not: activities it
    /// sent before deletion (its own `Delete` among them) are still signed.
    pub async fn organisation_key(&self, id: i64) -> StoreResult<(String, PrivateKey)> {
        let (handle, pem): (String, String) = on_pool!(self, |pool| {
            sqlx::query_as("SELECT handle, private_key_pem FROM organisations WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *pool)
                .await
        })?;
        Ok((handle, PrivateKey::from_pem(pem)))
    }

    /// The instance actor's keys, created by the first process to ask.
    pub async fn instance_keys(
        &self,
        generate: impl FnOnce() -> (PrivateKey, String),
    ) -> StoreResult<(PrivateKey, String)> {
        let existing: Option<(String, String)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT private_key_pem, public_key_pem FROM instance_keys WHERE id = 1")
                .fetch_optional(&mut *pool)
                .await
        })?;
        if let Some((private, public)) = existing {
            return Ok((PrivateKey::from_pem(private), public));
        }
        let (private, public) = generate();
        on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO instance_keys (id, public_key_pem, private_key_pem, created_at) \
                 VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&public)
            .bind(private.expose_pem())
            .bind(now_ms())
            .execute(&mut *pool)
            .await
            .map(|_| ())
        })?;
        // Another process may have won the race: read what is stored.
        let (private, public): (String, String) = on_pool!(self, |pool| {
            sqlx::query_as("SELECT private_key_pem, public_key_pem FROM instance_keys WHERE id = 1")
                .fetch_one(&mut *pool)
                .await
        })?;
        Ok((PrivateKey::from_pem(private), public))
    }
}

/// The organisations' part of an outbox [`Transition`](super::Transition),
/// on the outbox's transaction: each returns how many organisations it
/// changed (0: not live any more). Implemented for both backends'
/// connections.
pub(super) trait OrganisationWrites {
    /// A new profile for a live organisation, `updated` at `at`.
    async fn apply_update_organisation(
        &mut self,
        organisation_id: i64,
        profile: &Profile,
        at: i64,
    ) -> sqlx::Result<u64>;
    /// A live organisation deleted; its row stays.
    async fn apply_delete_organisation(
        &mut self,
        organisation_id: i64,
        now: i64,
    ) -> sqlx::Result<u64>;
}

/// [`OrganisationWrites`] for a backend's connection.
macro_rules! organisation_writes {
    ($($connection:ty),*) => {$(
        impl OrganisationWrites for $connection {
            async fn apply_update_organisation(
                &mut self,
                organisation_id: i64,
                p: &Profile,
                at: i64,
            ) -> sqlx::Result<u64> {
                Ok(sqlx::query(
                    "UPDATE organisations SET name = $2, summary = $3, website = $4, fields = $5, \
                     avatar_url = $6, header_url = $7, manually_approves_followers = $8, \
                     discoverable = $9, indexable = $10, updated_at = $11, approve_replies = $12 \
                     WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(organisation_id)
                .bind(&p.name)
                .bind(&p.summary)
                .bind(&p.website)
                .bind(fields_json(&p.fields))
                .bind(&p.avatar_url)
                .bind(&p.header_url)
                .bind(p.manually_approves_followers)
                .bind(p.discoverable)
                .bind(p.indexable)
                .bind(at)
                .bind(p.approve_replies)
                .execute(&mut *self)
                .await?
                .rows_affected())
            }

            async fn apply_delete_organisation(&mut self, organisation_id: i64, now: i64) -> sqlx::Result<u64> {
                Ok(sqlx::query(
                    "UPDATE organisations SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(organisation_id)
                .bind(now)
                .execute(&mut *self)
                .await?
                .rows_affected())
            }
        }
    )*};
}
organisation_writes!(sqlx::SqliteConnection, sqlx::PgConnection);
