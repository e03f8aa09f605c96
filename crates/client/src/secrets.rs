//! Secrets (an API key, a token): kept on this device only, encrypted at rest, never
//! synced.
//!
//! ```ignore
//! store.put_secret("openai-api-key", "sk-…").await?;
//! let key: Option<String> = store.secret("openai-api-key").await?;
//! let names: Vec<String> = store.secret_names().await?;
//! store.delete_secret("openai-api-key").await?;
//! ```
//!
//! Each secret is encrypted with AES-256-GCM (a fresh random 96-bit IV per write, the
//! secret's name as additional data, so rows cannot be swapped) under one **device key**:
//! a non-extractable WebCrypto `CryptoKey`, generated on first use and kept in the `keys`
//! object store (IndexedDB stores `CryptoKey` objects by structured clone; script can use
//! the key but never read its bytes). The `secrets` store holds `{name, iv, ciphertext,
//! updated_at_ms}` rows, the bytes as `Uint8Array`s. Secrets are not records: they are
//! not in `records` or the outbox, so sync never sees them.
//!
//! Backups carry secrets only when the user asks, re-encrypted with a key derived from a
//! passphrase ([`encrypt_for_backup`], [`decrypt_from_backup`]: PBKDF2-SHA256 →
//! AES-256-GCM, salt and IV random and written into the file).
//!
//! A memory store (IndexedDB unavailable) keeps no secrets: each call returns
//! [`SecretError::Unavailable`].

use cairn_protocol::backup::{
    from_base64, to_base64, EncryptedSecrets, SecretEntry, CIPHER, IV_BYTES, KDF, KDF_ITERATIONS,
    SALT_BYTES,
};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use crate::codec::now_ms;
use crate::schema::{KEYS, SECRETS};
use crate::store::{Idb, Store};
use crate::StoreError;

/// The `keys` entry of the device key that encrypts secrets.
const DEVICE_KEY: &str = "secrets-aes-gcm";
/// Additional data of the passphrase encryption in backups.
const BACKUP_AAD: &str = "cairn-backup secrets";

/// Why a secret could not be stored or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Secrets need IndexedDB and Web Crypto; this context has not got them.
    #[error("secrets cannot be kept here: {0}")]
    Unavailable(String),
    /// Web Crypto refused (e.g. a stored secret was damaged).
    #[error("encryption failed: {0}")]
    Crypto(String),
    /// The passphrase of a backup's secrets is wrong (or the file was altered).
    #[error("the passphrase is wrong, or the secrets in the file were altered")]
    WrongPassphrase,
}

impl From<rexie::Error> for SecretError {
    fn from(err: rexie::Error) -> Self {
        SecretError::Store(err.into())
    }
}

impl Store {
    /// Stores `plaintext` as the secret `name`, encrypted, replacing any previous value.
    pub async fn put_secret(&self, name: &str, plaintext: &str) -> Result<(), SecretError> {
        let db = idb(self)?;
        if name.is_empty() {
            return Err(SecretError::Crypto("a secret needs a name".into()));
        }
        let key = self.device_key().await?;
        let iv = random_bytes(IV_BYTES)?;
        let ciphertext = aes_gcm(true, &key, &iv, name.as_bytes(), plaintext.as_bytes()).await?;
        let row = Object::new();
        set(&row, "name", &JsValue::from_str(name))?;
        set(&row, "iv", &Uint8Array::from(iv.as_slice()))?;
        set(&row, "ciphertext", &Uint8Array::from(ciphertext.as_slice()))?;
        set(&row, "updated_at_ms", &JsValue::from(now_ms() as f64))?;
        Ok(db.put(SECRETS, &row, None).await?)
    }

    /// The secret `name`, decrypted; `None` if there is none.
    pub async fn secret(&self, name: &str) -> Result<Option<String>, SecretError> {
        let db = idb(self)?;
        let Some(row) = db.get(SECRETS, JsValue::from_str(name)).await? else {
            return Ok(None);
        };
        let bytes = |field: &str| -> Result<Vec<u8>, SecretError> {
            Reflect::get(&row, &field.into())
                .ok()
                .and_then(|v| v.dyn_into::<Uint8Array>().ok())
                .map(|a| a.to_vec())
                .ok_or_else(|| SecretError::Crypto(format!("the stored secret has no {field}")))
        };
        let (iv, ciphertext) = (bytes("iv")?, bytes("ciphertext")?);
        let key = self.device_key().await?;
        let plain = aes_gcm(false, &key, &iv, name.as_bytes(), &ciphertext).await?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|e| SecretError::Crypto(e.to_string()))
    }

    /// The names of every stored secret, sorted.
    pub async fn secret_names(&self) -> Result<Vec<String>, SecretError> {
        let Ok(db) = idb(self) else {
            return Ok(Vec::new());
        };
        let keys = db.keys(SECRETS).await?;
        let mut names: Vec<String> = keys.iter().filter_map(JsValue::as_string).collect();
        names.sort();
        Ok(names)
    }

    /// Deletes the secret `name` (nothing happens if there is none).
    pub async fn delete_secret(&self, name: &str) -> Result<(), SecretError> {
        let db = idb(self)?;
        Ok(db.delete(SECRETS, JsValue::from_str(name)).await?)
    }

    /// Every secret, decrypted, re-encrypted for a backup under `passphrase`.
    pub async fn export_secrets(&self, passphrase: &str) -> Result<EncryptedSecrets, SecretError> {
        let mut entries = Vec::new();
        for name in self.secret_names().await? {
            if let Some(value) = self.secret(&name).await? {
                entries.push(SecretEntry { name, value });
            }
        }
        encrypt_for_backup(passphrase, &entries).await
    }

    /// Stores the secrets of a backup (already decrypted), replacing same-named ones.
    pub async fn restore_secrets(&self, entries: &[SecretEntry]) -> Result<(), SecretError> {
        for entry in entries {
            self.put_secret(&entry.name, &entry.value).await?;
        }
        Ok(())
    }

    /// The device key, created on first use. Two tabs creating it at once: the second
    /// `add` fails and that tab reads the first one's key.
    async fn device_key(&self) -> Result<CryptoKey, SecretError> {
        if let Some(key) = self.stored_device_key().await? {
            return Ok(key);
        }
        let algorithm = Object::new();
        set(&algorithm, "name", &"AES-GCM".into())?;
        set(&algorithm, "length", &JsValue::from(256))?;
        let key: CryptoKey = call(subtle()?.generate_key_with_object(
            &algorithm,
            false,
            &usages(&["encrypt", "decrypt"]),
        ))
        .await?
        .unchecked_into();
        let db = idb(self)?;
        match db.add(KEYS, &key, &JsValue::from_str(DEVICE_KEY)).await {
            Ok(()) => Ok(key),
            Err(err) => self
                .stored_device_key()
                .await?
                .ok_or(SecretError::Store(err)),
        }
    }

    async fn stored_device_key(&self) -> Result<Option<CryptoKey>, SecretError> {
        let db = idb(self)?;
        let raw = db.get(KEYS, JsValue::from_str(DEVICE_KEY)).await?;
        Ok(raw.and_then(|k| k.dyn_into::<CryptoKey>().ok()))
    }
}

/// The IndexedDB database secrets are kept in; a memory store has none.
fn idb(store: &Store) -> Result<&Idb, SecretError> {
    store
        .indexed_db()
        .map_err(|reason| SecretError::Unavailable(reason.to_owned()))
}

/// Encrypts `entries` under a key derived from `passphrase` (random salt and IV).
pub async fn encrypt_for_backup(
    passphrase: &str,
    entries: &[SecretEntry],
) -> Result<EncryptedSecrets, SecretError> {
    let plaintext = serde_json::to_vec(entries).map_err(|e| SecretError::Crypto(e.to_string()))?;
    let (salt, iv) = (random_bytes(SALT_BYTES)?, random_bytes(IV_BYTES)?);
    let key = passphrase_key(passphrase, &salt, KDF_ITERATIONS).await?;
    let ciphertext = aes_gcm(true, &key, &iv, BACKUP_AAD.as_bytes(), &plaintext).await?;
    Ok(EncryptedSecrets {
        kdf: KDF.into(),
        iterations: KDF_ITERATIONS,
        salt: to_base64(&salt),
        cipher: CIPHER.into(),
        iv: to_base64(&iv),
        ciphertext: to_base64(&ciphertext),
        count: entries.len(),
    })
}

/// Decrypts the secrets of a backup with `passphrase`.
pub async fn decrypt_from_backup(
    secrets: &EncryptedSecrets,
    passphrase: &str,
) -> Result<Vec<SecretEntry>, SecretError> {
    let bytes = |b64: &str| from_base64(b64).map_err(SecretError::Crypto);
    let (salt, iv, ciphertext) = (
        bytes(&secrets.salt)?,
        bytes(&secrets.iv)?,
        bytes(&secrets.ciphertext)?,
    );
    let key = passphrase_key(passphrase, &salt, secrets.iterations).await?;
    let plain = aes_gcm(false, &key, &iv, BACKUP_AAD.as_bytes(), &ciphertext)
        .await
        .map_err(|_| SecretError::WrongPassphrase)?;
    serde_json::from_slice(&plain).map_err(|e| SecretError::Crypto(e.to_string()))
}

/// PBKDF2-SHA256(passphrase, salt, iterations) → a non-extractable AES-256-GCM key.
async fn passphrase_key(
    passphrase: &str,
    salt: &[u8],
    iterations: u32,
) -> Result<CryptoKey, SecretError> {
    let subtle = subtle()?;
    let base: CryptoKey = call(subtle.import_key_with_str(
        "raw",
        &Uint8Array::from(passphrase.as_bytes()),
        "PBKDF2",
        false,
        &usages(&["deriveKey"]),
    ))
    .await?
    .unchecked_into();
    let pbkdf2 = Object::new();
    set(&pbkdf2, "name", &"PBKDF2".into())?;
    set(&pbkdf2, "hash", &"SHA-256".into())?;
    set(&pbkdf2, "salt", &Uint8Array::from(salt))?;
    set(&pbkdf2, "iterations", &JsValue::from(iterations))?;
    let aes = Object::new();
    set(&aes, "name", &"AES-GCM".into())?;
    set(&aes, "length", &JsValue::from(256))?;
    Ok(call(subtle.derive_key_with_object_and_object(
        &pbkdf2,
        &base,
        &aes,
        false,
        &usages(&["encrypt", "decrypt"]),
    ))
    .await?
    .unchecked_into())
}

/// AES-GCM encryption (`encrypt`) or decryption with `key`, `iv` and additional data.
async fn aes_gcm(
    encrypt: bool,
    key: &CryptoKey,
    iv: &[u8],
    additional_data: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, SecretError> {
    let params = Object::new();
    set(&params, "name", &"AES-GCM".into())?;
    set(&params, "iv", &Uint8Array::from(iv))?;
    set(
        &params,
        "additionalData",
        &Uint8Array::from(additional_data),
    )?;
    let subtle = subtle()?;
    let data = Uint8Array::from(data);
    let promise = if encrypt {
        subtle.encrypt_with_object_and_buffer_source(&params, key, &data)
    } else {
        subtle.decrypt_with_object_and_buffer_source(&params, key, &data)
    };
    Ok(Uint8Array::new(&call(promise).await?).to_vec())
}

fn subtle() -> Result<SubtleCrypto, SecretError> {
    Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| c.dyn_into::<web_sys::Crypto>().ok())
        .map(|c| c.subtle())
        .ok_or_else(|| SecretError::Unavailable("the Web Crypto API is missing".into()))
}

fn random_bytes(n: usize) -> Result<Vec<u8>, SecretError> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| c.dyn_into::<web_sys::Crypto>().ok())
        .ok_or_else(|| SecretError::Unavailable("the Web Crypto API is missing".into()))?;
    let mut bytes = vec![0u8; n];
    crypto
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|e| SecretError::Crypto(describe(&e)))?;
    Ok(bytes)
}

async fn call(promise: Result<js_sys::Promise, JsValue>) -> Result<JsValue, SecretError> {
    let promise = promise.map_err(|e| SecretError::Crypto(describe(&e)))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| SecretError::Crypto(describe(&e)))
}

fn usages(names: &[&str]) -> JsValue {
    names
        .iter()
        .map(|n| JsValue::from_str(n))
        .collect::<Array>()
        .into()
}

fn set(target: &Object, field: &str, value: &JsValue) -> Result<(), SecretError> {
    Reflect::set(target, &field.into(), value)
        .map(|_| ())
        .map_err(|e| SecretError::Crypto(describe(&e)))
}

fn describe(err: &JsValue) -> String {
    match err.dyn_ref::<web_sys::DomException>() {
        Some(e) => format!("{}: {}", e.name(), e.message()),
        None => err.as_string().unwrap_or_else(|| format!("{err:?}")),
    }
}
