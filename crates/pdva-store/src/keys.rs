//! The registry's keys: the key file, per-patient data keys, sealed patient
//! identifiers and the keyed blind index of NHS numbers.
//!
//! Why this shape: the audit chain hashes every row as stored and can never
//! be rewritten, so a plaintext identifier written once would stay for ever.
//! A patient's identifiers (names, NHS and hospital numbers, date of birth)
//! are therefore sealed with a data key of their own before the row is
//! built; the data key is wrapped by the master key of the key file (never
//! in the database) and kept in `patient_key`, outside the chain, where
//! deleting it erases the identifiers from every row and before-state that
//! holds their ciphertext.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, Mac};
use pdva_domain::Patient;
use pdva_domain::codes::{FollowUpEndReason, Sex};
use pdva_domain::values::{NhsNumber, RegistryId, SiteCode};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Result, StoreError};

/// First line of a key file: what it is and its format version.
const HEADER: &str = "pdva-registry key file v1";
/// Bytes of an XChaCha20-Poly1305 nonce.
const NONCE_LEN: usize = 24;
/// What the master-key check seals, so a wrong master key is found on opening.
const MASTER_CHECK: &[u8] = b"pdva master key check v1";

/// The secrets of a deployment, as its key file holds them.
///
/// - `master` wraps every patient's data key; `pdva keys rotate` replaces it.
/// - `pseudonym` keys the researchers' pseudonyms; it never changes, so
///   pseudonyms stay stable.
/// - `blind_index` keys the NHS-number blind index; it never changes, so the
///   index stays valid across rotations.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFile {
    master: [u8; 32],
    pseudonym: [u8; 32],
    blind_index: [u8; 32],
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyFile { .. }")
    }
}

fn random32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes
}

fn key_error(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::KeyFile {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

impl KeyFile {
    /// Fresh random secrets for a new deployment.
    pub fn generate() -> Self {
        Self {
            master: random32(),
            pseudonym: random32(),
            blind_index: random32(),
        }
    }

    /// The same deployment secrets under a new random master key.
    pub fn with_new_master(&self) -> Self {
        Self {
            master: random32(),
            ..self.clone()
        }
    }

    /// Reads a key file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| key_error(path, e.to_string()))?;
        Self::parse(&text).map_err(|detail| key_error(path, detail))
    }

    fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        if lines.next() != Some(HEADER) {
            return Err(format!(
                "is not a key file (its first line must be `{HEADER}`)"
            ));
        }
        let (mut master, mut pseudonym, mut blind_index) = (None, None, None);
        for line in lines {
            let (name, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line `{line}` is not `name = hex`"))?;
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(value.trim(), &mut bytes)
                .map_err(|_| format!("{} is not 64 hexadecimal digits", name.trim()))?;
            match name.trim() {
                "master" => master = Some(bytes),
                "pseudonym" => pseudonym = Some(bytes),
                "blind_index" => blind_index = Some(bytes),
                other => return Err(format!("unknown entry `{other}`")),
            }
        }
        Ok(Self {
            master: master.ok_or("has no `master` key")?,
            pseudonym: pseudonym.ok_or("has no `pseudonym` secret")?,
            blind_index: blind_index.ok_or("has no `blind_index` secret")?,
        })
    }

    fn text(&self) -> String {
        format!(
            "{HEADER}\n\
             # The keys of one pdva registry. Keep this file secret (mode 0600) and back it\n\
             # up apart from the database: without it no patient's identifiers can be read,\n\
             # and with the database it reads them all.\n\
             master = {}\n\
             pseudonym = {}\n\
             blind_index = {}\n",
            hex::encode(self.master),
            hex::encode(self.pseudonym),
            hex::encode(self.blind_index),
        )
    }

    /// Writes the key file at `path`, which must not exist yet, readable by
    /// its owner only, and flushes it to disk.
    pub fn create(&self, path: &Path) -> Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|e| key_error(path, format!("cannot be created: {e}")))?;
        file.write_all(self.text().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| key_error(path, format!("cannot be written: {e}")))?;
        sync_parent(path);
        Ok(())
    }

    /// Writes the key file at `path` so that a crash leaves either the old
    /// file or the new one, never a part of either: a temporary file beside
    /// it is written and flushed, then renamed over it.
    pub fn replace(&self, path: &Path) -> Result<()> {
        let temp = sibling(path, ".tmp");
        let _ = std::fs::remove_file(&temp);
        self.create(&temp)?;
        std::fs::rename(&temp, path)
            .map_err(|e| key_error(path, format!("cannot be replaced: {e}")))?;
        sync_parent(path);
        Ok(())
    }

    /// The per-deployment pseudonym secret.
    pub fn pseudonym_secret(&self) -> [u8; 32] {
        self.pseudonym
    }
}

/// `path` with `suffix` appended to its file name.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Flushes a directory entry (a created or renamed file) to disk; where the
/// platform cannot, the file's own flush is what there is.
fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// The key file used when none is named: beside a SQLite file `X`, `X.key`;
/// for a PostgreSQL URL, `pdva-<host>-<database>[-<options>].key` in the
/// working directory (the URL without its user and password, every
/// character but letters, digits, `.` and `-` made `_`), since a server has
/// no directory of ours to put it beside.
pub fn default_key_file(db: &str) -> PathBuf {
    match crate::db::Engine::of(db) {
        crate::db::Engine::Sqlite => {
            let path = db.strip_prefix("sqlite://").unwrap_or(db);
            let path = path.strip_prefix("sqlite:").unwrap_or(path);
            let path = path.split('?').next().unwrap_or(path);
            sibling(Path::new(path), ".key")
        }
        crate::db::Engine::Postgres => {
            let rest = db.split_once("://").map_or(db, |(_, r)| r);
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            let name: String = rest
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(120)
                .collect();
            PathBuf::from(format!("pdva-{name}.key"))
        }
    }
}

/// A patient's data key, unwrapped.
pub(crate) struct DataKey([u8; 32]);

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).expect("the operating system's random source");
    let cipher = XChaCha20Poly1305::new(key.into());
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("encryption of a small message cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    hex::encode(out)
}

fn open(key: &[u8; 32], aad: &[u8], sealed: &str) -> Option<Vec<u8>> {
    let bytes = hex::decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ct) = bytes.split_at(NONCE_LEN);
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
}

/// The key file's secrets in use by a store.
pub(crate) struct Keyring {
    pub file: KeyFile,
    pub path: PathBuf,
}

impl Keyring {
    /// Identifies the deployment (not the master key, which rotation
    /// changes): a keyed hash that reveals nothing of the secrets.
    pub fn key_id(&self) -> String {
        hex::encode(hmac(&self.file.blind_index, &[b"pdva key id v1"]))
    }

    /// A check value that only this master key opens.
    pub fn master_check(&self) -> String {
        seal(&self.file.master, b"pdva master check", MASTER_CHECK)
    }

    /// Whether `check` was made by this master key.
    pub fn opens_master_check(&self, check: &str) -> bool {
        open(&self.file.master, b"pdva master check", check).as_deref() == Some(MASTER_CHECK)
    }

    /// A new data key for a patient, and its wrapped form to store.
    pub fn new_data_key(&self, patient_id: &str) -> (DataKey, String) {
        let key = random32();
        let wrapped = self.wrap(patient_id, &key);
        (DataKey(key), wrapped)
    }

    fn wrap(&self, patient_id: &str, key: &[u8; 32]) -> String {
        seal(&self.file.master, &wrap_aad(patient_id), key)
    }

    /// Unwraps a patient's data key; the patient id is bound in, so a key
    /// moved to another patient does not open.
    pub fn unwrap(&self, patient_id: &str, wrapped: &str) -> Result<DataKey> {
        let bytes = open(&self.file.master, &wrap_aad(patient_id), wrapped).ok_or_else(|| {
            StoreError::Corrupt {
                id: patient_id.to_owned(),
                kind: "patient".into(),
                detail: "its data key does not open with the master key of the key file".into(),
            }
        })?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| StoreError::Corrupt {
            id: patient_id.to_owned(),
            kind: "patient".into(),
            detail: "its data key has the wrong length".into(),
        })?;
        Ok(DataKey(key))
    }

    /// Re-wraps a data key wrapped by `old` under this keyring's master key.
    pub fn rewrap_from(&self, old: &Keyring, patient_id: &str, wrapped: &str) -> Result<String> {
        let key = old.unwrap(patient_id, wrapped)?;
        Ok(self.wrap(patient_id, &key.0))
    }

    /// The blind index of an NHS number: HMAC-SHA-256 of its ten digits
    /// under the deployment's blind-index secret. Equal numbers give equal
    /// indexes; without the key file it cannot be tested against guesses.
    pub fn blind_index(&self, nhs: &NhsNumber) -> String {
        hex::encode(hmac(
            &self.file.blind_index,
            &[b"nhs:", nhs.as_str().as_bytes()],
        ))
    }
}

fn wrap_aad(patient_id: &str) -> Vec<u8> {
    format!("pdva patient key v1:{patient_id}").into_bytes()
}

fn identifiers_aad(patient_id: &str) -> Vec<u8> {
    format!("pdva identifiers v1:{patient_id}").into_bytes()
}

/// The identifiers of a patient, sealed together.
#[derive(Serialize, Deserialize)]
struct Identifiers {
    nhs_number: Option<NhsNumber>,
    hospital_number: Option<String>,
    family_name: Option<String>,
    given_name: Option<String>,
    date_of_birth: NaiveDate,
}

/// A patient's row body as stored: the fields that identify nobody in
/// clear (the outcome facts scan reads `home_site` and `follow_up_ended_on`
/// here without a key), the year of birth in clear (so that an erased
/// patient still has an age), and the identifiers sealed, or `null` once
/// erased.
#[derive(Serialize, Deserialize)]
struct StoredPatient {
    registry_id: RegistryId,
    sex: Sex,
    home_site: SiteCode,
    follow_up_ended_on: Option<NaiveDate>,
    follow_up_end_reason: Option<FollowUpEndReason>,
    year_of_birth: i32,
    sealed: Option<String>,
}

/// The date of birth an erased patient reads back as: 1 July of the year of
/// birth, the middle of the year, so an age is off by half a year at most.
pub fn erased_date_of_birth(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 7, 1).unwrap_or(NaiveDate::MIN)
}

/// The body of a patient's row: identifiers sealed with `key`, or none
/// (erased) without one.
pub(crate) fn patient_body(patient: &Patient, patient_id: &str, key: Option<&DataKey>) -> String {
    let sealed = key.map(|key| {
        let identifiers = Identifiers {
            nhs_number: patient.nhs_number.clone(),
            hospital_number: patient.hospital_number.clone(),
            family_name: patient.family_name.clone(),
            given_name: patient.given_name.clone(),
            date_of_birth: patient.date_of_birth,
        };
        let json = serde_json::to_vec(&identifiers).expect("identifiers serialise");
        seal(&key.0, &identifiers_aad(patient_id), &json)
    });
    serde_json::to_string(&StoredPatient {
        registry_id: patient.registry_id.clone(),
        sex: patient.sex,
        home_site: patient.home_site.clone(),
        follow_up_ended_on: patient.follow_up_ended_on,
        follow_up_end_reason: patient.follow_up_end_reason,
        year_of_birth: patient.date_of_birth.year(),
        sealed,
    })
    .expect("a patient serialises")
}

/// Whether a stored patient body holds sealed identifiers (not erased).
pub(crate) fn body_is_sealed(body: &str) -> std::result::Result<bool, String> {
    let stored: StoredPatient = serde_json::from_str(body).map_err(|e| e.to_string())?;
    Ok(stored.sealed.is_some())
}

/// A patient from their stored body: identifiers opened with `key`, or,
/// without a key (erased, or a reader that needs none), no names or numbers
/// and the date of birth [`erased_date_of_birth`].
pub(crate) fn patient_from_body(
    body: &str,
    patient_id: &str,
    key: Option<&DataKey>,
) -> std::result::Result<Patient, String> {
    let stored: StoredPatient = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let identifiers = match (key, &stored.sealed) {
        (Some(key), Some(sealed)) => {
            let json = open(&key.0, &identifiers_aad(patient_id), sealed)
                .ok_or("its identifiers do not open with its data key")?;
            Some(serde_json::from_slice::<Identifiers>(&json).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let identifiers = identifiers.unwrap_or(Identifiers {
        nhs_number: None,
        hospital_number: None,
        family_name: None,
        given_name: None,
        date_of_birth: erased_date_of_birth(stored.year_of_birth),
    });
    Ok(Patient {
        registry_id: stored.registry_id,
        nhs_number: identifiers.nhs_number,
        hospital_number: identifiers.hospital_number,
        family_name: identifiers.family_name,
        given_name: identifiers.given_name,
        date_of_birth: identifiers.date_of_birth,
        sex: stored.sex,
        home_site: stored.home_site,
        follow_up_ended_on: stored.follow_up_ended_on,
        follow_up_end_reason: stored.follow_up_end_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_reads_back_as_written() {
        let keys = KeyFile::generate();
        assert_eq!(KeyFile::parse(&keys.text()).unwrap(), keys);
        assert!(KeyFile::parse("master = 00").is_err());
    }

    #[test]
    fn a_wrapped_key_opens_only_for_its_patient_and_master() {
        let ring = Keyring {
            file: KeyFile::generate(),
            path: PathBuf::new(),
        };
        let (key, wrapped) = ring.new_data_key("p1");
        assert_eq!(ring.unwrap("p1", &wrapped).unwrap().0, key.0);
        assert!(ring.unwrap("p2", &wrapped).is_err());
        let other = Keyring {
            file: ring.file.with_new_master(),
            path: PathBuf::new(),
        };
        assert!(other.unwrap("p1", &wrapped).is_err());
        let rewrapped = other.rewrap_from(&ring, "p1", &wrapped).unwrap();
        assert_eq!(other.unwrap("p1", &rewrapped).unwrap().0, key.0);
        assert_eq!(ring.key_id(), other.key_id());
        assert!(!other.opens_master_check(&ring.master_check()));
    }

    #[test]
    fn default_key_files() {
        assert_eq!(default_key_file("dir/x.db"), PathBuf::from("dir/x.db.key"));
        assert_eq!(
            default_key_file("sqlite://dir/x.db?mode=rwc"),
            PathBuf::from("dir/x.db.key")
        );
        assert_eq!(
            default_key_file("postgres://pdva:secret@db.example:5432/registry"),
            PathBuf::from("pdva-db.example_5432_registry.key")
        );
    }
}
