# A change that switches cleanly but fails the health check: it drops fleet-web.service, which
# the agent requires to be active after a switch.
_: {
  environment.etc."fleet/release".text = "without-web\n";
}
