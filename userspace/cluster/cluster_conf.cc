#include "cluster/cluster_conf.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

namespace tandem::cluster {

namespace {

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct CtxtFree {
  void operator()(xmlParserCtxt* c) const { xmlFreeParserCtxt(c); }
};

std::string name_of(const xmlNode* n) {
  return reinterpret_cast<const char*>(n->name);
}

bool is_element(const xmlNode* n, const char* name) {
  return n->type == XML_ELEMENT_NODE &&
         std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
}

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Error error_at(const xmlNode* n, const std::string& what) const {
    return make_error(source_ + ":" + std::to_string(xmlGetLineNo(n)) + ": <" + name_of(n) +
                      ">: " + what);
  }

  // Reads all attributes of an element, enforcing the limits.
  Result<Attributes> attributes(const xmlNode* n) {
    Attributes out;
    for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
      if (out.size() >= kMaxAttributesPerElement) {
        return error_at(n, "more than " + std::to_string(kMaxAttributesPerElement) + " attributes");
      }
      xmlChar* v = xmlNodeGetContent(reinterpret_cast<const xmlNode*>(a));
      std::string value = v != nullptr ? reinterpret_cast<const char*>(v) : "";
      xmlFree(v);
      const std::string key = reinterpret_cast<const char*>(a->name);
      if (value.size() > kMaxAttributeLength || key.size() > kMaxAttributeLength) {
        return error_at(n, "attribute " + key.substr(0, 64) + " is longer than " +
                               std::to_string(kMaxAttributeLength) + " bytes");
      }
      out.emplace_back(key, std::move(value));
    }
    return out;
  }

  static const std::string* find(const Attributes& attrs, std::string_view key) {
    const std::string* found = nullptr;
    for (const auto& [k, v] : attrs) {
      if (k == key) found = &v;
    }
    return found;
  }

  Result<std::string> required(const xmlNode* n, const Attributes& attrs, const char* key) {
    const std::string* v = find(attrs, key);
    if (v == nullptr || v->empty()) {
      return error_at(n, std::string("attribute ") + key + " is missing; add " + key + "=\"...\"");
    }
    return *v;
  }

  Result<std::uint32_t> number(const xmlNode* n, const Attributes& attrs, const char* key,
                               std::uint32_t fallback, std::uint32_t min, std::uint32_t max) {
    const std::string* v = find(attrs, key);
    if (v == nullptr) return fallback;
    const std::string& s = *v;
    bool ok = !s.empty() && s.size() <= 10;
    std::uint64_t value = 0;
    for (char c : s) {
      if (c < '0' || c > '9') {
        ok = false;
        break;
      }
      value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!ok || value < min || value > max) {
      return error_at(n, std::string("attribute ") + key + "=\"" + s.substr(0, 64) +
                             "\" is not a whole number from " + std::to_string(min) + " to " +
                             std::to_string(max));
    }
    return static_cast<std::uint32_t>(value);
  }

  Result<bool> boolean(const xmlNode* n, const Attributes& attrs, const char* key) {
    const std::string* v = find(attrs, key);
    if (v == nullptr) return false;
    if (*v == "1" || *v == "yes" || *v == "true") return true;
    if (*v == "0" || *v == "no" || *v == "false") return false;
    return error_at(
        n, std::string("attribute ") + key + "=\"" + v->substr(0, 64) + "\" must be 0 or 1");
  }

  Result<void> check_limits(const xmlNode* n, int depth) {
    for (const xmlNode* c = n; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      if (++elements_ > kMaxClusterConfElements) {
        return error_at(
            c, "the file has more than " + std::to_string(kMaxClusterConfElements) + " elements");
      }
      if (depth > kMaxClusterConfDepth) {
        return error_at(c, "elements are nested deeper than " +
                               std::to_string(kMaxClusterConfDepth) + " levels");
      }
      if (auto r = check_limits(c->children, depth + 1); !r) return r;
    }
    return {};
  }

  Result<void> parse_device_ref(const xmlNode* n, FenceMethod& method) {
    auto attrs = attributes(n);
    if (!attrs) return attrs.error();
    auto name = required(n, *attrs, "name");
    if (!name) return name.error();
    FenceDeviceRef ref;
    ref.name = *name;
    ref.line = static_cast<int>(xmlGetLineNo(n));
    for (auto& [k, v] : *attrs) {
      if (k != "name") ref.attributes.emplace_back(k, v);
    }
    method.devices.push_back(std::move(ref));
    return {};
  }

  Result<void> parse_fence(const xmlNode* fence, ClusterNode& node) {
    std::set<std::string> names;
    for (const xmlNode* m = fence->children; m != nullptr; m = m->next) {
      if (m->type != XML_ELEMENT_NODE) continue;
      if (!is_element(m, "method")) continue;  // unknown children are ignored
      auto attrs = attributes(m);
      if (!attrs) return attrs.error();
      auto name = required(m, *attrs, "name");
      if (!name) return name.error();
      if (!names.insert(*name).second) {
        return error_at(m, "method \"" + *name + "\" appears twice for node " + node.name +
                               "; give each method its own name");
      }
      FenceMethod method;
      method.name = *name;
      method.line = static_cast<int>(xmlGetLineNo(m));
      for (const xmlNode* d = m->children; d != nullptr; d = d->next) {
        if (!is_element(d, "device")) continue;
        if (auto r = parse_device_ref(d, method); !r) return r;
      }
      if (method.devices.empty()) {
        return error_at(m, "method \"" + method.name + "\" of node " + node.name +
                               " has no <device>; add one or remove the method");
      }
      node.fence_methods.push_back(std::move(method));
    }
    return {};
  }

  Result<void> parse_nodes(const xmlNode* parent, ClusterConf& conf) {
    std::set<std::string> names;
    std::set<std::uint32_t> ids;
    for (const xmlNode* n = parent->children; n != nullptr; n = n->next) {
      if (!is_element(n, "clusternode")) continue;
      if (conf.nodes.size() >= kMaxClusterNodes) {
        return error_at(n, "more than " + std::to_string(kMaxClusterNodes) + " nodes");
      }
      auto attrs = attributes(n);
      if (!attrs) return attrs.error();
      ClusterNode node;
      node.line = static_cast<int>(xmlGetLineNo(n));
      auto name = required(n, *attrs, "name");
      if (!name) return name.error();
      node.name = *name;
      if (find(*attrs, "nodeid") == nullptr) {
        return error_at(
            n, "node " + node.name + " has no nodeid; add nodeid=\"N\" (unique, 1 or more)");
      }
      auto id = number(n, *attrs, "nodeid", 0, 1, 0x7fffffff);
      if (!id) return id.error();
      node.nodeid = *id;
      auto votes = number(n, *attrs, "votes", 1, 0, 255);
      if (!votes) return votes.error();
      node.votes = *votes;
      if (!names.insert(node.name).second) {
        return error_at(n, "node name " + node.name + " appears twice; node names must be unique");
      }
      if (!ids.insert(node.nodeid).second) {
        return error_at(n, "nodeid " + std::to_string(node.nodeid) + " of node " + node.name +
                               " is already used by another node; node ids must be unique");
      }
      for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (!is_element(c, "fence")) continue;
        if (auto r = parse_fence(c, node); !r) return r;
      }
      conf.nodes.push_back(std::move(node));
    }
    return {};
  }

  static bool agent_name_ok(const std::string& agent) {
    if (agent.empty() || agent.size() > 255) return false;
    if (agent[0] == '/') {
      return agent.find("/../") == std::string::npos &&
             agent.find_first_of(" \t\r\n") == std::string::npos;
    }
    for (char c : agent) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.';
      if (!ok) return false;
    }
    return agent != "." && agent != "..";
  }

  Result<void> parse_fence_devices(const xmlNode* parent, ClusterConf& conf) {
    for (const xmlNode* n = parent->children; n != nullptr; n = n->next) {
      if (!is_element(n, "fencedevice")) continue;
      auto attrs = attributes(n);
      if (!attrs) return attrs.error();
      FenceDevice dev;
      dev.line = static_cast<int>(xmlGetLineNo(n));
      auto name = required(n, *attrs, "name");
      if (!name) return name.error();
      dev.name = *name;
      auto agent = required(n, *attrs, "agent");
      if (!agent) return agent.error();
      dev.agent = *agent;
      if (!agent_name_ok(dev.agent)) {
        return error_at(n, "agent \"" + dev.agent.substr(0, 64) + "\" of fence device " + dev.name +
                               " must be a program name (letters, digits, _ - .) or an "
                               "absolute path");
      }
      for (auto& [k, v] : *attrs) {
        if (k != "name" && k != "agent") dev.attributes.emplace_back(k, v);
      }
      if (conf.find_fence_device(dev.name) != nullptr) {
        return error_at(n, "fence device " + dev.name + " is defined twice; names must be unique");
      }
      conf.fence_devices.push_back(std::move(dev));
    }
    return {};
  }

  Result<ClusterConf> parse(const xmlNode* root) {
    ClusterConf conf;
    conf.source = source_;
    if (!is_element(root, "cluster")) {
      return error_at(root, "the top element must be <cluster>");
    }
    if (auto r = check_limits(root, 1); !r) return r.error();
    auto attrs = attributes(root);
    if (!attrs) return attrs.error();
    auto name = required(root, *attrs, "name");
    if (!name) return name.error();
    conf.name = *name;
    auto version = number(root, *attrs, "config_version", 0, 0, 0xffffffffu);
    if (!version) return version.error();
    conf.config_version = *version;

    std::set<std::string> seen;
    const xmlNode* nodes_element = nullptr;
    for (const xmlNode* c = root->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      const std::string element = name_of(c);
      const bool singleton = element == "clusternodes" || element == "fencedevices" ||
                             element == "fence_daemon" || element == "cman" || element == "totem";
      if (singleton && !seen.insert(element).second) {
        return error_at(c, "appears twice inside <cluster>; merge the two into one");
      }
      auto a = attributes(c);
      if (!a) return a.error();
      if (element == "clusternodes") {
        nodes_element = c;
        if (auto r = parse_nodes(c, conf); !r) return r.error();
      } else if (element == "fencedevices") {
        if (auto r = parse_fence_devices(c, conf); !r) return r.error();
      } else if (element == "fence_daemon") {
        conf.fence_daemon.line = static_cast<int>(xmlGetLineNo(c));
        auto join = number(c, *a, "post_join_delay", 6, 0, 86400);
        if (!join) return join.error();
        auto fail = number(c, *a, "post_fail_delay", 0, 0, 86400);
        if (!fail) return fail.error();
        conf.fence_daemon.post_join_delay = *join;
        conf.fence_daemon.post_fail_delay = *fail;
      } else if (element == "cman") {
        conf.cman.line = static_cast<int>(xmlGetLineNo(c));
        auto two = boolean(c, *a, "two_node");
        if (!two) return two.error();
        conf.cman.two_node = *two;
        auto expected = number(c, *a, "expected_votes", 0, 0, 65535);
        if (!expected) return expected.error();
        conf.cman.expected_votes = *expected;
      } else if (element == "totem") {
        conf.totem.line = static_cast<int>(xmlGetLineNo(c));
        auto token = number(c, *a, "token", 10000, 100, 3600000);
        if (!token) return token.error();
        auto consensus = number(c, *a, "consensus", 0, 0, 3600000);
        if (!consensus) return consensus.error();
        conf.totem.token_ms = *token;
        conf.totem.consensus_ms = *consensus;
      }
      // Other elements (rm, logging, dlm, quorumd, ...) belong to other parts
      // of the stack and are left for them.
    }

    if (conf.nodes.empty()) {
      return error_at(nodes_element != nullptr ? nodes_element : root,
                      "no <clusternode> is defined; add <clusternodes><clusternode name=... "
                      "nodeid=.../></clusternodes>");
    }
    for (const ClusterNode& node : conf.nodes) {
      for (const FenceMethod& method : node.fence_methods) {
        for (const FenceDeviceRef& ref : method.devices) {
          if (conf.find_fence_device(ref.name) == nullptr) {
            return make_error(source_ + ":" + std::to_string(ref.line) + ": <device>: node " +
                              node.name + ", method " + method.name + ": no <fencedevice name=\"" +
                              ref.name +
                              "\"> is defined; add it under <fencedevices> or fix the name");
          }
        }
      }
    }
    if (conf.cman.two_node) {
      const std::string where = source_ + ":" + std::to_string(conf.cman.line) + ": <cman>: ";
      if (conf.nodes.size() != 2) {
        return make_error(where + "two_node=\"1\" needs exactly 2 nodes, but " +
                          std::to_string(conf.nodes.size()) + " are defined");
      }
      if (conf.cman.expected_votes != 1) {
        return make_error(where + "two_node=\"1\" needs expected_votes=\"1\"");
      }
    }
    return conf;
  }

 private:
  std::string source_;
  std::size_t elements_ = 0;
};

}  // namespace

const ClusterNode* ClusterConf::find_node(std::string_view node_name) const {
  for (const ClusterNode& n : nodes) {
    if (n.name == node_name) return &n;
  }
  return nullptr;
}

const ClusterNode* ClusterConf::find_node_by_id(std::uint32_t nodeid) const {
  for (const ClusterNode& n : nodes) {
    if (n.nodeid == nodeid) return &n;
  }
  return nullptr;
}

const FenceDevice* ClusterConf::find_fence_device(std::string_view device_name) const {
  for (const FenceDevice& d : fence_devices) {
    if (d.name == device_name) return &d;
  }
  return nullptr;
}

std::string attribute_or(const Attributes& attributes, std::string_view name,
                         std::string fallback) {
  for (auto it = attributes.rbegin(); it != attributes.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return fallback;
}

Result<ClusterConf> parse_cluster_conf(std::string_view text, const std::string& source) {
  if (text.size() > kMaxClusterConfBytes) {
    return make_error(source + ": the file is " + std::to_string(text.size()) +
                      " bytes; cluster.conf may be at most " +
                      std::to_string(kMaxClusterConfBytes) + " bytes");
  }
  // No document type declarations: they are not part of cluster.conf and
  // are the way into entity expansion attacks.
  if (text.find("<!DOCTYPE") != std::string_view::npos ||
      text.find("<!ENTITY") != std::string_view::npos) {
    return make_error(source +
                      ": <!DOCTYPE>/<!ENTITY> declarations are not allowed in "
                      "cluster.conf; remove them");
  }
  xmlInitParser();
  std::unique_ptr<xmlParserCtxt, CtxtFree> ctxt(xmlNewParserCtxt());
  if (!ctxt) return make_error(source + ": out of memory creating the XML parser");
  // NONET: never fetch anything. No NOENT/DTDLOAD/XINCLUDE: entities stay
  // unexpanded and no external file is read.
  const int flags = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
  std::unique_ptr<xmlDoc, DocFree> doc(xmlCtxtReadMemory(
      ctxt.get(), text.data(), static_cast<int>(text.size()), source.c_str(), nullptr, flags));
  if (!doc || !ctxt->wellFormed) {
    const xmlError* e = xmlCtxtGetLastError(ctxt.get());
    std::string message = e != nullptr && e->message != nullptr ? e->message : "malformed XML";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    const int line = e != nullptr ? e->line : 0;
    return make_error(source + ":" + std::to_string(line) + ": not well-formed XML: " + message);
  }
  if (doc->intSubset != nullptr || doc->extSubset != nullptr) {
    return make_error(source + ": document type declarations are not allowed in cluster.conf");
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr) return make_error(source + ": the file holds no XML element");
  Parser parser(source);
  return parser.parse(root);
}

Result<ClusterConf> load_cluster_conf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int e = errno;
    return make_error("cannot read cluster configuration " + path + ": " + std::strerror(e) +
                          " (give another file with --cluster-conf)",
                      e);
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxClusterConfBytes) {
      return make_error(path + ": the file is larger than " + std::to_string(kMaxClusterConfBytes) +
                        " bytes; is this cluster.conf?");
    }
  }
  return parse_cluster_conf(text, path);
}

}  // namespace tandem::cluster
