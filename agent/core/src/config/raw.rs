//! The configuration file as written: every key optional, unknown keys refused. Lists stay
//! untyped here so that each bad element is reported with its own index (config/check.rs).

use super::duration::Span;
use serde::Deserialize;
use toml::Value;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub roles: Option<Vec<Value>>,
    pub state_dir: Option<String>,
    pub chain: Option<RawChain>,
    pub host: Option<RawHost>,
    pub source: Option<RawSource>,
    pub executor: Option<RawExecutor>,
    pub validator: Option<super::validator::RawValidator>,
    pub keys: Option<RawKeys>,
    pub metrics: Option<super::monitoring::RawMetrics>,
    pub hooks: Option<super::monitoring::RawHooks>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChain {
    pub algod_url: Option<String>,
    pub algod_token_file: Option<String>,
    pub app_id: Option<u64>,
    pub network: Option<String>,
    pub allowed_program_hashes: Option<Vec<Value>>,
    pub max_fee: Option<u64>,
    pub max_requests_per_second: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    pub id: Option<u64>,
    pub name: Option<String>,
    pub flake_output: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub allowed_remotes: Option<Vec<Value>>,
    pub checkout_dir: Option<String>,
    pub shallow: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExecutor {
    pub system_profile: Option<String>,
    pub switch_mode: Option<String>,
    pub operator_group: Option<String>,
    pub fetch_timeout: Option<Span>,
    pub dry_build_timeout: Option<Span>,
    pub build_timeout: Option<Span>,
    pub switch_timeout: Option<Span>,
    pub health: Option<RawHealth>,
    pub drift: Option<String>,
    pub current_system: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    pub timeout: Option<Span>,
    pub required_units: Option<Vec<Value>>,
    pub command: Option<Vec<Value>>,
    pub check_chain: Option<bool>,
    pub check_remote: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    pub account_key_file: Option<String>,
}
