// HttpGet: a minimal HTTP/1.0 GET over loopback TCP, for tests that read
// /metrics or Prometheus's HTTP API. One request per connection, the whole
// body read until the server closes. Not a general HTTP client: no TLS, no
// chunked encoding (HTTP/1.0 servers send none), no redirects.
// Thread-safe (no shared state).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "core/util/status.h"

namespace camserve::testing {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// GET http://127.0.0.1:PORT/PATH_AND_QUERY; errors for connection failures
// and malformed answers (not for non-200 statuses). Gives up after
// `timeout_ms` without data.
inline StatusOr<HttpResponse> HttpGet(int port, const std::string& path_and_query, int timeout_ms = 10000) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return UnavailableError("socket() failed");
  timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return UnavailableError("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  const std::string request = "GET " + path_and_query + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return UnavailableError("cannot send the request");
  }
  std::string raw;
  char buffer[16384];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) != 0;) {
    if (n < 0) {
      close(fd);
      return Status(StatusCode::kDeadlineExceeded, "no answer from 127.0.0.1:" + std::to_string(port) + path_and_query);
    }
    raw.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  const size_t header_end = raw.find("\r\n\r\n");
  if (raw.compare(0, 5, "HTTP/") != 0 || header_end == std::string::npos || raw.find(' ') == std::string::npos) {
    return InternalError("malformed HTTP answer: " + raw.substr(0, 200));
  }
  HttpResponse response;
  response.status = std::stoi(raw.substr(raw.find(' ') + 1, 3));
  response.body = raw.substr(header_end + 4);
  return response;
}

}  // namespace camserve::testing
