ln -sfn "$DIR" "$ROOT/current"
id sample-service >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin sample-service

cat > /etc/sample-service.env <<'ENV'
@{environment}
ENV

cat > /etc/systemd/system/sample-service.service <<'UNIT'
[Unit]
Description=Stateless sample service
After=network-online.target
Wants=network-online.target

[Service]
User=sample-service
EnvironmentFile=/etc/sample-service.env
WorkingDirectory=/opt/sample-service/current
ExecStart=/opt/sample-service/current/venv/bin/python -m sample_service
Restart=always
RestartSec=2
# SIGTERM starts a graceful shutdown; systemd waits out the grace period before it kills.
KillSignal=SIGTERM
TimeoutStopSec=@{stop_timeout}
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable sample-service
systemctl restart sample-service
