# Sourced by the demo, lab and benchmark scripts that run two tandemd nodes
# on this machine.
#
# two_node_conf WORK PORT [OPTION VALUE]...: prints a resource file for
# resource r0 on nodes alpha (127.0.0.1:PORT) and beta (127.0.0.1:PORT+1),
# with backing files WORK/alpha.img and WORK/beta.img and internal metadata.
#   --secret S          shared-secret (default "tandem-secret"; cram-hmac-alg sha256)
#   --protocol P        A, B or C (default C)
#   --net TEXT          more statements for the net section
#   --resource TEXT     more statements at resource level (disk { }, handlers { }, ...)
#   --device-alpha D    alpha's device clause (default "nbd")
#   --device-beta D     beta's device clause (default "nbd")
two_node_conf() {
  local work=$1 port=$2
  shift 2
  local secret=tandem-secret protocol=C net="" resource="" dev_alpha=nbd dev_beta=nbd
  while (($# > 0)); do
    (($# >= 2)) || { echo "two_node_conf: $1 needs a value" >&2; return 2; }
    case "$1" in
      --secret) secret=$2 ;;
      --protocol) protocol=$2 ;;
      --net) net=$2 ;;
      --resource) resource=$2 ;;
      --device-alpha) dev_alpha=$2 ;;
      --device-beta) dev_beta=$2 ;;
      *) echo "two_node_conf: unknown option $1" >&2; return 2 ;;
    esac
    shift 2
  done
  cat <<CONF
resource r0 {
  net {
    protocol $protocol;
    cram-hmac-alg sha256;
    shared-secret "$secret";
    connect-int 1;${net:+
    $net}
  }${resource:+
  $resource}
  on alpha {
    node-id 0;
    device $dev_alpha;
    disk $work/alpha.img;
    meta-disk internal;
    address 127.0.0.1:$port;
  }
  on beta {
    node-id 1;
    device $dev_beta;
    disk $work/beta.img;
    meta-disk internal;
    address 127.0.0.1:$((port + 1));
  }
}
CONF
}
