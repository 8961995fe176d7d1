// Self-signed certificates for farmd's HTTPS (tls_cert.h), with OpenSSL's EVP and X509 APIs.
#include "farm/farmd/tls_cert.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "farm/schemas/sha256.h"

namespace farm::farmd {
namespace {

namespace fs = std::filesystem;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

// The newest OpenSSL error queue entry, for messages; clears the queue.
std::string OpenSslError(const std::string& what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return what;
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return what + ": " + text;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

BioPtr ReadBio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

X509Ptr ParseCertificate(std::string_view pem) {
  BioPtr bio = ReadBio(pem);
  return X509Ptr(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

bool IsIpAddress(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

Status AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext) return InvalidArgument(OpenSslError("certificate extension '" + value + "'"));
  if (X509_add_ext(cert, ext.get(), -1) != 1) return Internal(OpenSslError("X509_add_ext"));
  return Status::Ok();
}

// Writes `text` to `path` through a temp file in the same folder: fsync, rename, fsync of
// the folder. The temp file is created with `mode`, so a key is never readable by others.
Status WriteAtomically(const fs::path& path, const std::string& text, mode_t mode) {
  const fs::path temp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Unavailable("cannot write '" + temp.string() + "': " + std::strerror(errno));
  ::fchmod(fd, mode);  // umask may have narrowed it; never widened past `mode`
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string error = std::strerror(errno);
      ::close(fd);
      ::unlink(temp.c_str());
      return Unavailable("cannot write '" + temp.string() + "': " + error);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temp.c_str());
    return Unavailable("cannot sync '" + temp.string() + "': " + std::strerror(errno));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string error = std::strerror(errno);
    ::unlink(temp.c_str());
    return Unavailable("cannot rename '" + temp.string() + "' to '" + path.string() +
                       "': " + error);
  }
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const int dir = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::Ok();
}

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void AddUnique(std::vector<std::string>& list, const std::string& value) {
  if (!value.empty() && std::find(list.begin(), list.end(), value) == list.end())
    list.push_back(value);
}

}  // namespace

std::string FingerprintOfDer(std::string_view der) { return "sha256:" + Sha256Hex(der); }

std::string FingerprintOfCertificate(X509* cert) {
  unsigned char* der = nullptr;
  const int size = i2d_X509(cert, &der);
  if (size <= 0) return "";
  std::string fingerprint = FingerprintOfDer(
      std::string_view(reinterpret_cast<char*>(der), static_cast<std::size_t>(size)));
  OPENSSL_free(der);
  return fingerprint;
}

StatusOr<CertificatePair> GenerateSelfSignedCertificate(const CertificateRequest& request) {
  PkeyCtxPtr key_ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (!key_ctx || EVP_PKEY_keygen_init(key_ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(key_ctx.get(), "P-256") != 1 ||
      EVP_PKEY_generate(key_ctx.get(), &raw_key) != 1) {
    return Internal(OpenSslError("cannot generate an ECDSA P-256 key"));
  }
  PkeyPtr key(raw_key);

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return Internal(OpenSslError("X509_new"));
  // A random 127-bit serial: two certificates of one host never share one.
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
    return Internal(OpenSslError("certificate serial"));
  }
  // Valid from an hour ago: clocks of clients a little behind still accept it.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(request.valid_days) * 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("StudioFarm"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(request.common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());

  std::string san;
  for (const std::string& dns : request.dns_names) san += (san.empty() ? "" : ",") + ("DNS:" + dns);
  for (const std::string& ip : request.ip_addresses) {
    if (!IsIpAddress(ip))
      return InvalidArgument("certificate IP address '" + ip + "': not an address");
    san += (san.empty() ? "" : ",") + ("IP:" + ip);
  }
  // A server (leaf) certificate; clients trust it as itself: a pinned fingerprint, or
  // curl --cacert with this file.
  FARM_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  FARM_RETURN_IF_ERROR(AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature"));
  FARM_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  FARM_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));
  if (!san.empty()) FARM_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_alt_name, san));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return Internal(OpenSslError("cannot sign the certificate"));
  }

  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return Internal(OpenSslError("cannot encode the certificate"));
  }
  CertificatePair pair;
  pair.cert_pem = BioText(cert_bio.get());
  pair.key_pem = BioText(key_bio.get());
  pair.fingerprint = FingerprintOfCertificate(cert.get());
  pair.generated = true;
  return pair;
}

Status WriteCertificatePair(const CertificatePair& pair, const std::string& cert_path,
                            const std::string& key_path) {
  for (const fs::path& path : {fs::path(cert_path), fs::path(key_path)}) {
    if (!path.has_parent_path() || fs::exists(path.parent_path())) continue;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      return Unavailable("cannot create '" + path.parent_path().string() + "': " + ec.message());
    fs::permissions(path.parent_path(), fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  // The key first: a certificate on disk always has its key beside it.
  FARM_RETURN_IF_ERROR(WriteAtomically(key_path, pair.key_pem, 0600));
  return WriteAtomically(cert_path, pair.cert_pem, 0644);
}

StatusOr<CertificatePair> LoadOrCreateCertificate(const std::string& cert_path,
                                                  const std::string& key_path,
                                                  const CertificateRequest& request) {
  std::error_code ec;
  const bool have_cert = fs::exists(cert_path, ec);
  const bool have_key = fs::exists(key_path, ec);
  if (!have_cert && !have_key) {
    FARM_ASSIGN_OR_RETURN(CertificatePair pair, GenerateSelfSignedCertificate(request));
    FARM_RETURN_IF_ERROR(WriteCertificatePair(pair, cert_path, key_path));
    return pair;
  }
  if (have_cert != have_key) {
    return FailedPrecondition(
        "TLS " +
        std::string(have_cert ? "certificate '" + cert_path + "' has no key '" + key_path
                              : "key '" + key_path + "' has no certificate '" + cert_path) +
        "': restore the missing file, or remove the other one to make a new pair (clients must "
        "then pin the new fingerprint)");
  }
  CertificatePair pair;
  FARM_ASSIGN_OR_RETURN(pair.cert_pem, ReadFile(cert_path));
  FARM_ASSIGN_OR_RETURN(pair.key_pem, ReadFile(key_path));
  X509Ptr cert = ParseCertificate(pair.cert_pem);
  if (!cert) return DataLoss(OpenSslError("'" + cert_path + "': not a PEM certificate"));
  BioPtr key_bio = ReadBio(pair.key_pem);
  PkeyPtr key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                      : nullptr);
  if (!key) return DataLoss(OpenSslError("'" + key_path + "': not a PEM private key"));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return FailedPrecondition("TLS key '" + key_path + "' does not belong to certificate '" +
                              cert_path + "'");
  }
  pair.fingerprint = FingerprintOfCertificate(cert.get());
  return pair;
}

StatusOr<std::string> CertificateFingerprint(std::string_view cert_pem) {
  X509Ptr cert = ParseCertificate(cert_pem);
  if (!cert) return DataLoss(OpenSslError("not a PEM certificate"));
  return FingerprintOfCertificate(cert.get());
}

StatusOr<std::string> NormalizeFingerprint(std::string_view text) {
  std::string_view rest = text;
  for (std::string_view prefix :
       {"sha256:", "SHA256:", "sha256 fingerprint=", "SHA256 Fingerprint="}) {
    if (rest.substr(0, prefix.size()) == prefix) {
      rest.remove_prefix(prefix.size());
      break;
    }
  }
  std::string hex;
  for (char c : rest) {
    if (c == ':' || c == ' ') continue;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      hex.clear();
      break;
    }
    hex += c;
  }
  if (hex.size() != 64) {
    return InvalidArgument("fingerprint '" + std::string(text) +
                           "': expected sha256:<64 hex digits> (farmctl cert show prints it)");
  }
  return "sha256:" + hex;
}

CertificateRequest RequestForHost(const std::string& bind_host,
                                  const std::vector<std::string>& extra) {
  CertificateRequest request;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') {
    request.common_name = host;
    AddUnique(request.dns_names, host);
  }
  AddUnique(request.dns_names, "localhost");
  AddUnique(request.ip_addresses, "127.0.0.1");
  AddUnique(request.ip_addresses, "::1");
  const bool wildcard = bind_host.empty() || bind_host == "0.0.0.0" || bind_host == "::";
  if (!wildcard) {
    if (IsIpAddress(bind_host))
      AddUnique(request.ip_addresses, bind_host);
    else
      AddUnique(request.dns_names, bind_host);
  } else {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) == 0) {
      for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
        if (entry->ifa_addr == nullptr) continue;
        char text[INET6_ADDRSTRLEN] = {};
        const int family = entry->ifa_addr->sa_family;
        if (family == AF_INET) {
          inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr, text,
                    sizeof text);
        } else if (family == AF_INET6) {
          const auto* v6 = reinterpret_cast<sockaddr_in6*>(entry->ifa_addr);
          if (IN6_IS_ADDR_LINKLOCAL(&v6->sin6_addr))
            continue;  // needs a zone id; unusable in a SAN
          inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        } else {
          continue;
        }
        AddUnique(request.ip_addresses, text);
      }
      ::freeifaddrs(list);
    }
  }
  for (const std::string& name : extra) {
    if (IsIpAddress(name))
      AddUnique(request.ip_addresses, name);
    else
      AddUnique(request.dns_names, name);
  }
  return request;
}

std::string DefaultCertPath(const std::string& state_dir) {
  return (fs::path(state_dir.empty() ? "." : state_dir) / "tls" / "farmd.crt").string();
}

std::string DefaultKeyPath(const std::string& state_dir) {
  return (fs::path(state_dir.empty() ? "." : state_dir) / "tls" / "farmd.key").string();
}

}  // namespace farm::farmd
