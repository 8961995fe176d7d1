// farmd's HTTPS certificate: a self-signed ECDSA P-256 certificate made at `farmctl init` or
// at farmd's first start, kept in the farm's state folder and reused afterwards. Clients
// trust it by pinning its SHA-256 fingerprint ("sha256:<hex>" of the DER certificate), not
// through a CA chain. OpenSSL stays inside tls_cert.cc.
#pragma once

#include <openssl/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::farmd {

struct CertificateRequest {
  std::string common_name = "farmd";
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries (v4 or v6 text)
  int valid_days = 3650;
};

struct CertificatePair {
  std::string cert_pem;
  std::string key_pem;      // PKCS#8 PEM of the private key
  std::string fingerprint;  // "sha256:<64 lower-case hex>" of the DER certificate
  bool generated = false;   // made by this call (LoadOrCreateCertificate)
};

// A new key (ECDSA P-256) and a certificate signed by it: TLS server use, subjectAltName
// from `request`. InvalidArgument for a bad IP address, Internal when OpenSSL fails.
StatusOr<CertificatePair> GenerateSelfSignedCertificate(const CertificateRequest& request);

// Writes both files atomically (temp file, fsync, rename): the key with mode 0600, the
// certificate 0644; their folder is created (0700) when missing. Existing files are replaced.
Status WriteCertificatePair(const CertificatePair& pair, const std::string& cert_path,
                            const std::string& key_path);

// Reads and checks an existing pair (the key must belong to the certificate), or makes and
// writes one when neither file exists. FailedPrecondition when only one of them exists;
// DataLoss when a file is not PEM of the expected kind.
StatusOr<CertificatePair> LoadOrCreateCertificate(const std::string& cert_path,
                                                  const std::string& key_path,
                                                  const CertificateRequest& request);

// "sha256:<hex>" of the first certificate in `cert_pem`; DataLoss when there is none.
StatusOr<std::string> CertificateFingerprint(std::string_view cert_pem);

// "sha256:<hex>" of DER bytes (what a TLS client sees of the peer).
std::string FingerprintOfDer(std::string_view der);
// FingerprintOfDer of `cert` (e.g. the peer's after a handshake); "" when it has no DER.
std::string FingerprintOfCertificate(X509* cert);

// A pin as people paste it: "sha256:<hex>", "SHA256 Fingerprint=AB:CD:..." (openssl x509
// -fingerprint), bare hex, with or without colons, any case. Returns "sha256:<lower hex>";
// InvalidArgument (showing what was given) when it is not 32 bytes of hex.
StatusOr<std::string> NormalizeFingerprint(std::string_view text);

// Names for a new certificate of a server bound to `bind_host` (an address, "" or
// "0.0.0.0"/"::" for every interface): this host's name, "localhost", the loopback
// addresses, the bind address, or every interface address for a wildcard bind; plus
// `extra` (names or addresses). Duplicates removed.
CertificateRequest RequestForHost(const std::string& bind_host,
                                  const std::vector<std::string>& extra = {});

// The default files under a farm's state folder (the database's folder):
// <state>/tls/farmd.crt and <state>/tls/farmd.key.
std::string DefaultCertPath(const std::string& state_dir);
std::string DefaultKeyPath(const std::string& state_dir);

}  // namespace farm::farmd
