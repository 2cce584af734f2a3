// This device's key, kept in IndexedDB. The private key is a non-extractable CryptoKey: the
// page can sign with it, but no script can read it out. Nothing else is stored in the browser:
// passport contents live only in the page's memory.

const DB = "work-passport";
const STORE = "keys";
const DEVICE = "device";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** `{privateKey, publicKey, jwk, partyId, name, base}`, or undefined on a new device. */
export function load() {
  return run("readonly", (store) => store.get(DEVICE));
}

export function save(device) {
  return run("readwrite", (store) => store.put(device, DEVICE));
}

export function forget() {
  return run("readwrite", (store) => store.delete(DEVICE));
}
