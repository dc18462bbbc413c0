//! Several warm clients, one per CloudStack identity, for multi-CPI daemons.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::client::CloudStackClient;
use crate::config::ClientConfig;
use crate::error::CloudStackError;

type Identity = (String, String, Option<String>);

/// Holds one [`CloudStackClient`] per distinct (endpoint, API key, project).
///
/// The first configuration seen for an identity wins: later requests with the same identity
/// but, say, another timeout reuse the existing client. The pool's `Debug` output shows only
/// how many clients it holds, never the keys it is indexed by.
#[derive(Default)]
pub struct ClientPool {
    clients: Mutex<HashMap<Identity, Arc<CloudStackClient>>>,
}

impl fmt::Debug for ClientPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientPool")
            .field("clients", &self.len())
            .finish()
    }
}

impl ClientPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the client for this configuration's identity, creating it on first use.
    pub fn get(&self, config: &ClientConfig) -> Result<Arc<CloudStackClient>, CloudStackError> {
        let identity = config.identity();
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| CloudStackError::Config("the client pool lock is poisoned".to_owned()))?;
        if let Some(client) = clients.get(&identity) {
            return Ok(Arc::clone(client));
        }
        let client = Arc::new(CloudStackClient::new(config.clone())?);
        clients.insert(identity, Arc::clone(&client));
        Ok(client)
    }

    /// How many distinct clients the pool holds.
    pub fn len(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
