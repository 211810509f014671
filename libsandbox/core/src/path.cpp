// STUB: replaced by the policy-engine work.
