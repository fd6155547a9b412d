/**
 * Throwaway certificates for the TLS tests and the bench, made with `openssl`
 * when they run and removed after: a test CA, a server certificate it signs for
 * `localhost` and `127.0.0.1`, and one it signs for another name only. No key
 * is ever committed.
 *
 * They are written under `.test-tmp/` (ignored by git), the one folder
 * `deno task test` lets the tests read and write, because the programs under
 * test (the server, openssl, ncat, socat, Python) take files.
 *
 * @module
 */

/** A certificate and its private key, as files and as PEM text. */
export interface KeyPair {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** The certificates of one test run; disposing of them removes their folder. */
export interface TestCertificates extends AsyncDisposable {
  /** The test CA's certificate. */
  ca: { file: string; pem: string };
  /** Signed by the test CA, for `localhost` and `127.0.0.1`. */
  server: KeyPair;
  /** Signed by the test CA, for `otherhost` only. */
  wrongName: KeyPair;
}

/** Where the certificates go, relative to the project: `deno task test` may write there only. */
const TEST_TMP = ".test-tmp";

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"];

/** Whether this test run may make certificates: openssl, and the folder it writes in. */
export async function canMakeCertificates(): Promise<boolean> {
  const granted = async (descriptor: Deno.PermissionDescriptor) =>
    (await Deno.permissions.query(descriptor)).state === "granted";
  if (!await granted({ name: "run", command: "openssl" })) return false;
  if (!await granted({ name: "write", path: TEST_TMP })) return false;
  try {
    await new Deno.Command("openssl", { args: ["version"], stdout: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes a test CA and the server certificates it signs, in a new folder.
 *
 * @param parent Where to make the folder; the tests' own by default.
 */
export async function makeTestCertificates(parent = TEST_TMP): Promise<TestCertificates> {
  await Deno.mkdir(parent, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: parent, prefix: "certs-" });
  const file = (name: string) => `${dir}/${name}`;
  await openssl(
    "req",
    "-x509",
    ...EC_KEY,
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.pem"),
    "-subj",
    "/CN=uppercase-tcp test CA",
  );
  const keyPair = async (name: string, names: string): Promise<KeyPair> => {
    const certFile = file(`${name}.pem`), keyFile = file(`${name}.key`);
    await openssl(
      "req",
      "-x509",
      "-CA",
      file("ca.pem"),
      "-CAkey",
      file("ca.key"),
      ...EC_KEY,
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-subj",
      `/CN=${name}`,
      "-addext",
      `subjectAltName=${names}`,
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    );
    return {
      certFile,
      keyFile,
      cert: await Deno.readTextFile(certFile),
      key: await Deno.readTextFile(keyFile),
    };
  };
  return {
    ca: { file: file("ca.pem"), pem: await Deno.readTextFile(file("ca.pem")) },
    server: await keyPair("localhost", "DNS:localhost,IP:127.0.0.1"),
    wrongName: await keyPair("otherhost", "DNS:otherhost"),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function openssl(...args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", { args, stdout: "null" }).output();
  if (!success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}
