package forwardauth

import "fmt"

// NginxConf is a whole nginx.conf for an nginx that runs in the
// foreground and unprivileged from dir (its pid file, error log and
// temporary files are under dir), logging at errorLevel, with http the
// body of its http block (upstreams and servers). The nginx test of the
// README's configuration and the forward-auth benchmark run it.
func NginxConf(dir, errorLevel string, connections int, http string) string {
	return fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log %[2]s;
events { worker_connections %[3]d; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[4]s
}
`, dir, errorLevel, connections, http)
}
