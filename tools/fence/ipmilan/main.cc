// fence_tandem_ipmilan: see ipmilan_agent.h.
#include <cstdio>

#include "ipmilan_agent.h"

int main(int argc, char** argv) {
  tandem::fence::IpmilanAgent agent;
  return tandem::fence::run_agent(agent, tandem::fence::ipmilan_agent_info(), argc, argv, stdin);
}
