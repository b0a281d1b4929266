//! The access log: who saw which patient, which report and which export,
//! and when. Append-only (database triggers refuse changes and deletions),
//! kept apart from the audit chain because reading changes nothing and a
//! page view must not wait for the chain's write lock. Callers batch their
//! events ([`Store::record_access`] writes many in one statement).

use pdva_domain::RecordId;
use serde::Serialize;
use sqlx::Row;

use crate::Store;
use crate::chain::{BATCH_ROWS, Placeholders, insert_sql};
use crate::error::{Result, StoreError};

const ACCESS_COLUMNS: &str = "at, actor, role, action, patient_id, detail";
const ACCESS_COLUMN_COUNT: usize = 6;

/// What was accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessAction {
    /// An identifiable patient page (or a form that shows the patient).
    ViewPatient,
    /// A de-identified patient page (research).
    ViewResearchPatient,
    /// A list of identifiable patients (a search, the patient list, the worklist).
    ListPatients,
    /// A report (dashboard, outcomes document, appraisal, governance review).
    Report,
    /// An export.
    Export,
}

impl AccessAction {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ViewPatient => "view_patient",
            Self::ViewResearchPatient => "view_research_patient",
            Self::ListPatients => "list_patients",
            Self::Report => "report",
            Self::Export => "export",
        }
    }

    /// The action a stored spelling names.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::ViewPatient,
            Self::ViewResearchPatient,
            Self::ListPatients,
            Self::Report,
            Self::Export,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }

    /// Words for an administrator.
    pub fn label(self) -> &'static str {
        match self {
            Self::ViewPatient => "viewed a patient",
            Self::ViewResearchPatient => "viewed a de-identified patient",
            Self::ListPatients => "listed patients",
            Self::Report => "generated a report",
            Self::Export => "exported data",
        }
    }
}

/// One access.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessEvent {
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Who: a username, or `cli:<login>` for the command line.
    pub actor: String,
    /// Their role (stored spelling), or `command_line`.
    pub role: String,
    /// What they did.
    pub action: AccessAction,
    /// The patient seen, if one was.
    pub patient_id: Option<RecordId>,
    /// The page, report or export and its filters (never an identifier).
    pub detail: Option<String>,
}

impl AccessEvent {
    /// An access happening now.
    pub fn now(
        actor: impl Into<String>,
        role: impl Into<String>,
        action: AccessAction,
        patient_id: Option<RecordId>,
        detail: Option<String>,
    ) -> Self {
        Self {
            at: crate::now_timestamp(),
            actor: actor.into(),
            role: role.into(),
            action,
            patient_id,
            detail,
        }
    }
}

/// Which entries of the access log to read.
#[derive(Debug, Clone, Default)]
pub struct AccessQuery {
    /// Only accesses to this patient.
    pub patient_id: Option<RecordId>,
    /// Only accesses by this user (or command-line actor).
    pub actor: Option<String>,
    /// At most this many, newest first (default 200).
    pub limit: Option<i64>,
}

impl Store {
    /// Appends accesses to the log, in batches of one statement each.
    pub async fn record_access(&self, events: &[AccessEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        let style = Placeholders::of(&conn);
        for chunk in events.chunks(BATCH_ROWS) {
            let sql = insert_sql(
                "access_log",
                ACCESS_COLUMNS,
                ACCESS_COLUMN_COUNT,
                chunk.len(),
                style,
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(&e.at)
                    .bind(&e.actor)
                    .bind(&e.role)
                    .bind(e.action.as_str())
                    .bind(e.patient_id.map(|p| p.to_string()))
                    .bind(&e.detail);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// The newest accesses that match `query`, newest first.
    pub async fn access_log(&self, query: &AccessQuery) -> Result<Vec<AccessEvent>> {
        self.flush_access_log().await?;
        let mut sql = String::from(
            "SELECT at, actor, role, action, patient_id, detail FROM access_log WHERE 1 = 1",
        );
        let mut n = 0;
        if query.patient_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND patient_id = ${n}"));
        }
        if query.actor.is_some() {
            n += 1;
            sql.push_str(&format!(" AND actor = ${n}"));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));
        let mut q = sqlx::query(&sql);
        if let Some(p) = query.patient_id {
            q = q.bind(p.to_string());
        }
        if let Some(a) = &query.actor {
            q = q.bind(a.clone());
        }
        q = q.bind(query.limit.unwrap_or(200));
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let action: String = row.try_get(3)?;
                let patient: Option<String> = row.try_get(4)?;
                let corrupt = |detail: &str| StoreError::Corrupt {
                    id: patient.clone().unwrap_or_default(),
                    kind: "access_log".into(),
                    detail: detail.into(),
                };
                Ok(AccessEvent {
                    at: row.try_get(0)?,
                    actor: row.try_get(1)?,
                    role: row.try_get(2)?,
                    action: AccessAction::parse(&action)
                        .ok_or_else(|| corrupt("unknown access action"))?,
                    patient_id: patient
                        .as_deref()
                        .map(|p| p.parse().map_err(|_| corrupt("bad patient id")))
                        .transpose()?,
                    detail: row.try_get(5)?,
                })
            })
            .collect()
    }
}

/// Accesses waiting to be written, shared by every clone of a store: a page
/// hands its access over and returns; a writer task writes what has
/// gathered in one statement every [`FLUSH_EVERY`] (or sooner when
/// [`FLUSH_AT`] are waiting).
#[derive(Debug, Default)]
pub(crate) struct AccessBuffer {
    pending: std::sync::Mutex<Vec<AccessEvent>>,
    wake: tokio::sync::Notify,
    writer_started: std::sync::atomic::AtomicBool,
    /// Held while a batch is written, so that a flush returns only once
    /// everything handed over before it is in the database.
    writing: tokio::sync::Mutex<()>,
}

/// How often the writer task writes what has gathered.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
/// How many waiting accesses wake the writer at once.
const FLUSH_AT: usize = 256;

impl Store {
    /// Hands an access to the log without waiting for the database: it is
    /// written within a quarter of a second by a writer task (started on
    /// first use), and at the latest by [`Store::flush_access_log`].
    pub fn log_access(&self, event: AccessEvent) {
        let waiting = {
            let mut pending = self.access.pending.lock().expect("access buffer lock");
            pending.push(event);
            pending.len()
        };
        if !self
            .access
            .writer_started
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let store = self.clone();
                    runtime.spawn(async move {
                        loop {
                            tokio::select! {
                                _ = store.access.wake.notified() => {}
                                _ = tokio::time::sleep(FLUSH_EVERY) => {}
                            }
                            if let Err(e) = store.flush_access_log().await {
                                tracing::error!(error = %e, "writing the access log failed; will retry");
                            }
                        }
                    });
                }
                // No runtime (a synchronous caller): written at the next flush.
                Err(_) => self
                    .access
                    .writer_started
                    .store(false, std::sync::atomic::Ordering::Release),
            }
        }
        if waiting >= FLUSH_AT {
            self.access.wake.notify_one();
        }
    }

    /// Writes every access handed over so far. Commands call it before
    /// they exit, the server when it stops, and readers of the log first.
    pub async fn flush_access_log(&self) -> Result<()> {
        let _writing = self.access.writing.lock().await;
        let batch = std::mem::take(&mut *self.access.pending.lock().expect("access buffer lock"));
        if let Err(e) = self.record_access(&batch).await {
            // Keep them, oldest first, for the next try: an access is never dropped.
            let mut pending = self.access.pending.lock().expect("access buffer lock");
            let newer = std::mem::replace(&mut *pending, batch);
            pending.extend(newer);
            return Err(e);
        }
        Ok(())
    }
}
