#include "tests/integration/raw_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace onceonly {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

absl::Status Connect(int port, Fd& socket_fd) {
  socket_fd.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (socket_fd.fd < 0) return absl::InternalError(std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(socket_fd.fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string OpenSslErrors() {
  std::string out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof(text));
    absl::StrAppend(&out, out.empty() ? "" : "; ", text);
  }
  return out.empty() ? "no OpenSSL error" : out;
}

using SslCtx = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
using Ssl = std::unique_ptr<SSL, decltype(&SSL_free)>;

absl::StatusOr<SslCtx> ClientContext(const config::v1::TlsFiles& tls, int max_version) {
  SslCtx ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  if (ctx == nullptr) return absl::InternalError(OpenSslErrors());
  // Let the client offer old versions: whether they are refused is the server's to show.
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file().c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file().c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file().c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError(OpenSslErrors());
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  return ctx;
}

absl::Status ReadExactly(SSL* ssl, unsigned char* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    const int n = SSL_read(ssl, out + done, static_cast<int>(size - done));
    if (n <= 0) return absl::UnavailableError(absl::StrCat("read: ", OpenSslErrors()));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<bool> ServerClosesAnIdleConnection(int port, absl::Duration wait) {
  Fd fd;
  if (absl::Status s = Connect(port, fd); !s.ok()) return s;
  pollfd p{fd.fd, POLLIN, 0};
  const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(wait)));
  if (ready < 0) return absl::InternalError(std::strerror(errno));
  if (ready == 0) return false;
  char byte;
  const ssize_t n = recv(fd.fd, &byte, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

absl::Status TlsHandshake(int port, const config::v1::TlsFiles& tls, int max_version) {
  absl::StatusOr<SslCtx> ctx = ClientContext(tls, max_version);
  if (!ctx.ok()) return ctx.status();
  Fd fd;
  if (absl::Status s = Connect(port, fd); !s.ok()) return s;
  Ssl ssl(SSL_new(ctx->get()), &SSL_free);
  SSL_set_fd(ssl.get(), fd.fd);
  if (SSL_connect(ssl.get()) != 1) {
    return absl::PermissionDeniedError(absl::StrCat("handshake refused: ", OpenSslErrors()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<uint16_t, uint32_t>> ServerHttp2Settings(
    int port, const config::v1::TlsFiles& tls) {
  absl::StatusOr<SslCtx> ctx = ClientContext(tls, TLS1_3_VERSION);
  if (!ctx.ok()) return ctx.status();
  Fd fd;
  if (absl::Status s = Connect(port, fd); !s.ok()) return s;
  Ssl ssl(SSL_new(ctx->get()), &SSL_free);
  SSL_set_fd(ssl.get(), fd.fd);
  if (SSL_connect(ssl.get()) != 1) {
    return absl::UnavailableError(absl::StrCat("handshake: ", OpenSslErrors()));
  }
  // The client preface, then an empty SETTINGS frame (length 0, type 4, no flags, stream 0).
  static const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  static const unsigned char kSettings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
  if (SSL_write(ssl.get(), kPreface, sizeof(kPreface) - 1) <= 0 ||
      SSL_write(ssl.get(), kSettings, sizeof(kSettings)) <= 0) {
    return absl::UnavailableError(absl::StrCat("write: ", OpenSslErrors()));
  }
  for (int frames = 0; frames < 16; ++frames) {
    unsigned char header[9];
    if (absl::Status s = ReadExactly(ssl.get(), header, sizeof(header)); !s.ok()) return s;
    const size_t length = (size_t{header[0]} << 16) | (size_t{header[1]} << 8) | header[2];
    const unsigned char type = header[3], flags = header[4];
    if (length > (1 << 14)) return absl::DataLossError("frame longer than the default maximum");
    std::string payload(length, '\0');
    if (absl::Status s = ReadExactly(ssl.get(), reinterpret_cast<unsigned char*>(payload.data()),
                                     length);
        !s.ok()) {
      return s;
    }
    if (type != 4 || (flags & 1) != 0) continue;  // not SETTINGS, or an ACK
    std::map<uint16_t, uint32_t> settings;
    for (size_t i = 0; i + 6 <= length; i += 6) {
      const auto* p = reinterpret_cast<const unsigned char*>(payload.data() + i);
      settings[static_cast<uint16_t>((p[0] << 8) | p[1])] =
          (uint32_t{p[2]} << 24) | (uint32_t{p[3]} << 16) | (uint32_t{p[4]} << 8) | p[5];
    }
    return settings;
  }
  return absl::DataLossError("no SETTINGS frame from the server");
}

}  // namespace onceonly
