//! AWS's own rules for what the run document, the promotion document and the stack settings
//! name (identifiers, names, parameter paths, ARNs, URLs), and the bounds that keep every string
//! well below Step Functions' 256 KiB state limit. Each check answers why a value is refused, if it
//! is, so that the caller refuses it naming the field before any AWS call instead of AWS refusing
//! it minutes later, after resources were created. The limits are cited where they are used.

use crate::naming::service_name_problem;
use crate::StepError;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// A whole document (run or promotion), as JSON. A state's input or output holds at most 256 KiB
/// (Step Functions quotas), and the plan made from the run document travels through every state
/// beside the steps' results (and into the teardown schedule's input), so a document keeps to an
/// eighth of it.
pub const MAX_DOCUMENT_BYTES: usize = 32 * 1024;
/// Any one string of a document, keys included: the longest name AWS takes for any field here is
/// an SSM parameter name (2048 characters with what SSM reserves, [`MAX_PARAMETER_NAME`] without).
pub const MAX_STRING_BYTES: usize = 2048;

/// Refuses a document of more than [`MAX_DOCUMENT_BYTES`], or with a string or key of more than
/// [`MAX_STRING_BYTES`], naming the field.
pub fn check_document_size(document: &Value) -> Result<(), StepError> {
    let size = document.to_string().len();
    if size > MAX_DOCUMENT_BYTES {
        return Err(StepError::invalid("(document)", format!("is {size} bytes of JSON; at most {MAX_DOCUMENT_BYTES} are accepted")));
    }
    match longest_string(document, "") {
        Some((field, what, len)) => {
            Err(StepError::invalid(field, format!("{what} {len} bytes long; at most {MAX_STRING_BYTES} are accepted")))
        }
        None => Ok(()),
    }
}

/// The first string (or key) over the bound: its field, what it is, its length.
fn longest_string(value: &Value, path: &str) -> Option<(String, &'static str, usize)> {
    let field = || if path.is_empty() { "(document)".to_string() } else { path.to_string() };
    match value {
        Value::String(text) if text.len() > MAX_STRING_BYTES => Some((field(), "is", text.len())),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| longest_string(item, &format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.len() > MAX_STRING_BYTES {
                return Some((field(), "has a key", key.len()));
            }
            longest_string(item, &if path.is_empty() { key.clone() } else { format!("{path}.{key}") })
        }),
        _ => None,
    }
}

/// SSM (PutParameter, Name): a parameter name is at most 1011 characters (the documented 2048
/// include 1037 that SSM reserves), case-sensitive, of `a-zA-Z0-9_.-` between slashes, at most
/// fifteen levels deep, and not prefixed `aws` or `ssm` (case-insensitive).
pub const MAX_PARAMETER_NAME: usize = 1011;
pub const MAX_PARAMETER_LEVELS: usize = 15;
/// A path this tool writes or reads under leaves room for the names of its parameters.
pub const MAX_PARAMETER_PATH: usize = 512;

/// Why the segments of a parameter path or name are refused: empty, `.` or `..` (a path that
/// means another place once normalized), characters SSM refuses, too many levels, or a
/// reserved prefix.
fn parameter_segments_problem(segments: &[&str], max_levels: usize) -> Option<String> {
    if let Some(segment) = segments.iter().find(|s| s.is_empty() || **s == "." || **s == "..") {
        return Some(format!("must not have an empty, '.' or '..' segment (found {segment:?})"));
    }
    if segments.iter().any(|s| !s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))) {
        return Some("segments may contain only letters, digits, '_', '.' and '-'".into());
    }
    if segments.len() > max_levels {
        return Some(format!("has {} levels; SSM allows {MAX_PARAMETER_LEVELS} with the parameter's own name", segments.len()));
    }
    let first = segments.first().map(|s| s.to_ascii_lowercase()).unwrap_or_default();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Some("must not begin with aws or ssm (reserved by SSM)".into());
    }
    None
}

/// A path prefix under which parameters live: `/app/environment/`.
pub fn parameter_path_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') || !path.ends_with('/') || path.len() < 3 {
        return Some("must look like /app/environment/ (leading and trailing slash)".into());
    }
    if path.len() > MAX_PARAMETER_PATH {
        return Some(format!("is {} characters; at most {MAX_PARAMETER_PATH} leave room for the parameters' names", path.len()));
    }
    let segments: Vec<&str> = path[1..path.len() - 1].split('/').collect();
    // One level stays for the parameters under the path.
    parameter_segments_problem(&segments, MAX_PARAMETER_LEVELS - 1)
}

/// A full parameter name: `/app/rehearsal/TEST_ADMIN_PASSWORD`.
pub fn parameter_name_problem(name: &str) -> Option<String> {
    if !name.starts_with('/') || name.ends_with('/') || name.len() < 2 {
        return Some("must be an absolute parameter name (/path/NAME)".into());
    }
    if name.len() > MAX_PARAMETER_NAME {
        return Some(format!("is {} characters; SSM allows {MAX_PARAMETER_NAME}", name.len()));
    }
    let segments: Vec<&str> = name[1..].split('/').collect();
    parameter_segments_problem(&segments, MAX_PARAMETER_LEVELS)
}

/// The parts of an ARN, `arn:<partition>:<service>:<region>:<account>:<resource>`.
struct Arn<'a> {
    service: &'a str,
    resource: &'a str,
}

/// AWS partitions are `aws` and `aws-<name>` (aws-cn, aws-us-gov, aws-iso, aws-iso-b, …), as
/// App Runner's ARN patterns (`arn:aws(-[\w]+)*:…`) accept.
static PARTITION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^aws(-[a-z]+)*$").expect("valid regex"));
/// us-east-1, us-gov-west-1, cn-north-1, eu-isoe-west-1.
static REGION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$").expect("valid regex"));
static ACCOUNT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9]{12}$").expect("valid regex"));

/// Parses an ARN of `service`, in a region unless `global` (IAM and STS ARNs have none), of a
/// 12-digit account.
fn parse_arn<'a>(arn: &'a str, service: &str, global: bool) -> Result<Arn<'a>, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, arn_service, region, account, resource] = parts[..] else {
        return Err("is not an ARN (arn:<partition>:<service>:<region>:<account>:<resource>)".into());
    };
    if prefix != "arn" || !PARTITION.is_match(partition) {
        return Err(format!("is not an ARN of an AWS partition (arn:aws…:), found {prefix}:{partition}"));
    }
    if arn_service != service {
        return Err(format!("is an ARN of {arn_service:?}, not of {service}"));
    }
    match (global, region) {
        (true, "") => {}
        (true, _) => return Err(format!("names the region {region:?}; {service} ARNs have none")),
        (false, _) if !REGION.is_match(region) => return Err(format!("{region:?} is not an AWS region")),
        (false, _) => {}
    }
    if !ACCOUNT.is_match(account) {
        return Err(format!("{account:?} is not a 12-digit AWS account id"));
    }
    Ok(Arn { service: arn_service, resource })
}

/// IAM (CreateRole): a role name is 1–64 of `[\w+=,.@-]`, its path 1–512 characters between
/// slashes; App Runner takes an instance role ARN of 29–1024 characters
/// (InstanceConfiguration.InstanceRoleArn: `arn:…:iam::<12 digits>:role/…`).
pub fn iam_role_arn_problem(arn: &str) -> Option<String> {
    static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_+=,.@-]{1,64}$").expect("valid regex"));
    static PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^/([A-Za-z0-9_+=,.@-]+/)*$").expect("valid regex"));
    if !(29..=1024).contains(&arn.len()) {
        return Some(format!("is {} characters; a role ARN has 29 to 1024", arn.len()));
    }
    let parsed = match parse_arn(arn, "iam", true) {
        Ok(parsed) => parsed,
        Err(problem) => return Some(problem),
    };
    let Some(path_and_name) = parsed.resource.strip_prefix("role") else {
        return Some(format!("names {:?}, not a role (role/<path><name>)", parsed.resource));
    };
    let (path, name) = path_and_name.rsplit_once('/').map(|(p, n)| (format!("{p}/"), n)).unwrap_or_default();
    if !PATH.is_match(&path) || path.len() > 512 {
        return Some(format!("{path:?} is not an IAM path (1 to 512 characters between slashes)"));
    }
    if !NAME.is_match(name) {
        return Some(format!("{name:?} is not an IAM role name (1 to 64 letters, digits and +=,.@_-)"));
    }
    None
}

/// The IAM principal an API caller is: a user, a role, the account's root, or an assumed-role
/// or federated session (IAM identifiers: `arn:…:iam::<account>:user/…`,
/// `arn:…:sts::<account>:assumed-role/<role>/<session>`).
pub fn principal_arn_problem(arn: &str, max_length: usize) -> Option<String> {
    static IAM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(root|(user|role)(/[A-Za-z0-9_+=,.@-]+)+)$").expect("valid regex"));
    static STS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(assumed-role/[A-Za-z0-9_+=,.@-]+/[A-Za-z0-9_+=,.@-]+|federated-user/[A-Za-z0-9_+=,.@-]+)$").expect("valid regex")
    });
    if arn.len() > max_length {
        return Some(format!("is {} characters; at most {max_length} are accepted", arn.len()));
    }
    let service = if arn.split(':').nth(2) == Some("sts") { "sts" } else { "iam" };
    match parse_arn(arn, service, true) {
        Err(problem) => Some(problem),
        Ok(parsed) if !(if parsed.service == "sts" { &STS } else { &IAM }).is_match(parsed.resource) => {
            Some(format!("{:?} is not an IAM user, role, root or session", parsed.resource))
        }
        Ok(_) => None,
    }
}

/// An App Runner ARN of `kind` (`connection/<name>/<id>`, `vpcconnector/<name>/<revision>/<id>`):
/// at most 1011 characters, `arn:aws(-[\w]+)*:apprunner:<region>:<12 digits>:(\w|/|-){1,1011}`
/// (AuthenticationConfiguration.ConnectionArn, EgressConfiguration.VpcConnectorArn). Connection
/// names are 4–32 characters (CreateConnection), VPC connector names 4–40.
fn app_runner_arn_problem(arn: &str, kind: &str, parts_after_name: usize, max_name: usize) -> Option<String> {
    if arn.len() > 1011 {
        return Some(format!("is {} characters; App Runner allows 1011", arn.len()));
    }
    let parsed = match parse_arn(arn, "apprunner", false) {
        Ok(parsed) => parsed,
        Err(problem) => return Some(problem),
    };
    let parts: Vec<&str> = parsed.resource.split('/').collect();
    let shape = || format!("names {:?}, not an App Runner {kind} ({kind}/<name>/…)", parsed.resource);
    let Some((_, rest)) = parts.split_first().filter(|(first, rest)| **first == kind && rest.len() == 1 + parts_after_name) else {
        return Some(shape());
    };
    if let Some(problem) = service_name_problem(rest[0]) {
        return Some(format!("{:?}: {problem}", rest[0]));
    }
    if rest[0].len() > max_name {
        return Some(format!("{:?}: an App Runner {kind} name has at most {max_name} characters", rest[0]));
    }
    // Revision and id: App Runner's pattern allows word characters and hyphens.
    rest[1..].iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')).then(shape)
}

/// `${StagingConnectionArn}`: an App Runner source connection.
pub fn connection_arn_problem(arn: &str) -> Option<String> {
    app_runner_arn_problem(arn, "connection", 1, 32)
}

/// `${StagingVpcConnector}`: a VPC connector's name (the rule of service names) or ARN.
pub fn vpc_connector_problem(connector: &str) -> Option<String> {
    if connector.starts_with("arn:") {
        app_runner_arn_problem(connector, "vpcconnector", 2, 40)
    } else {
        service_name_problem(connector)
    }
}

/// Step Functions: an execution ARN is `arn:…:states:<region>:<account>:execution:<state machine>:<name>`,
/// at most 256 characters (DescribeExecution executionArn); state machine and execution names are
/// 1–80 characters without white space, brackets, wildcards, `"#%\^|~`$&,;:/` or control
/// characters (CreateStateMachine, StartExecution name).
pub fn execution_arn_problem(arn: &str) -> Option<String> {
    if arn.len() > 256 {
        return Some(format!("is {} characters; Step Functions allows 256", arn.len()));
    }
    let parsed = match parse_arn(arn, "states", false) {
        Ok(parsed) => parsed,
        Err(problem) => return Some(problem),
    };
    let parts: Vec<&str> = parsed.resource.split(':').collect();
    match parts[..] {
        ["execution", machine, name] => [machine, name]
            .into_iter()
            .find_map(|n| step_functions_name_problem(n).map(|problem| format!("{n:?} is not a Step Functions name: {problem}"))),
        _ => Some(format!("names {:?}, not an execution (execution:<state machine>:<name>)", parsed.resource)),
    }
}

fn step_functions_name_problem(name: &str) -> Option<String> {
    if !(1..=80).contains(&name.chars().count()) {
        return Some("must be 1 to 80 characters".into());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)) {
        return Some("contains white space, a bracket, a wildcard or one of \"#%\\^|~`$&,;:/".into());
    }
    None
}

/// An email address as mail servers take it (RFC 5321): at most 254 characters, a local part of
/// at most 64, a domain of dot-separated labels of letters, digits and inner hyphens.
pub fn email_problem(email: &str) -> Option<String> {
    static LOCAL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$").expect("valid regex"));
    static DOMAIN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$").expect("valid regex"));
    if email.len() > 254 {
        return Some(format!("is {} characters; an address has at most 254", email.len()));
    }
    match email.rsplit_once('@') {
        Some((local, domain)) if local.len() <= 64 && LOCAL.is_match(local) && DOMAIN.is_match(domain) => None,
        _ => Some(format!("{email:?} is not an email address (local@domain.tld)")),
    }
}

/// An RDS DB instance class, `db.<family>.<size>` (db.t3.micro, db.t4g.small: RDS's DB instance
/// class names).
pub fn db_instance_class_problem(class: &str) -> Option<String> {
    static CLASS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^db\.[a-z0-9]{2,10}\.[a-z0-9]{4,12}$").expect("valid regex"));
    (!CLASS.is_match(class)).then(|| format!("{class:?} is not an RDS instance class (db.<family>.<size>)"))
}

/// The longest URL path accepted (the URL Stripe and the checks call adds the service's host).
pub const MAX_URL_PATH: usize = 1024;

/// An absolute URL path of RFC 3986 path characters (unreserved, `%XX`, sub-delims, `:`, `@`),
/// without a query, a fragment, white space or `.`/`..` segments.
pub fn url_path_problem(path: &str) -> Option<String> {
    static PATH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(/([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)+$").expect("valid regex"));
    if path.len() > MAX_URL_PATH {
        return Some(format!("is {} characters; at most {MAX_URL_PATH} are accepted", path.len()));
    }
    if !PATH.is_match(path) {
        return Some(format!("{path:?} must be an absolute URL path (/…) of URL path characters, without ? or #"));
    }
    if path.split('/').any(|s| s == "." || s == "..") {
        return Some(format!("{path:?} must not have a '.' or '..' segment"));
    }
    None
}

/// The repository staging builds: an `https://` URL of at most 2048 characters with a host and no
/// white space, quotes or backslashes.
pub fn https_url_problem(url: &str) -> Option<String> {
    static URL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s"'\\<>]*)?$"#).expect("valid regex"));
    if url.len() > 2048 {
        return Some(format!("is {} characters; at most 2048 are accepted", url.len()));
    }
    (!url.is_ascii() || !URL.is_match(url)).then(|| format!("{url:?} must be an https:// URL"))
}

/// A git branch name (`git check-ref-format --branch`): no `..`, `//`, `@{`, white space,
/// control characters or `~^:?*[\`; not beginning with `-` or `/`, not ending with `/`, `.` or
/// `.lock`; at most 255 bytes, as git hosts store refs.
pub fn branch_problem(branch: &str) -> Option<String> {
    let bad_char = branch.chars().any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
    if branch.is_empty() || branch.len() > 255 {
        return Some(format!("must be 1 to 255 bytes (got {})", branch.len()));
    }
    if bad_char
        || branch == "@"
        || ["..", "//", "@{", "/."].iter().any(|s| branch.contains(s))
        || branch.starts_with(['-', '/', '.'])
        || branch.ends_with(['/', '.'])
        || branch.ends_with(".lock")
    {
        return Some(format!("{branch:?} is not a git branch name"));
    }
    None
}

/// App Runner's build and start commands are one line (CodeConfigurationValues BuildCommand and
/// StartCommand: `[^\x0a\x0d]+`).
pub fn command_problem(command: &str) -> Option<String> {
    if command.trim().is_empty() {
        return Some("must not be empty".into());
    }
    if command.contains(['\n', '\r']) {
        return Some("must be one line (App Runner refuses line breaks)".into());
    }
    (command.len() > MAX_STRING_BYTES).then(|| format!("is {} bytes; at most {MAX_STRING_BYTES} are accepted", command.len()))
}

/// The most plain variables a run document sets, and the longest name.
pub const MAX_ENVIRONMENT_VARIABLES: usize = 50;
const MAX_VARIABLE_NAME: usize = 128;

/// A plain environment variable's name: a shell-style name (`[A-Za-z_][A-Za-z0-9_]*`), not one
/// App Runner keeps for itself (`AWSAPPRUNNER…`).
pub fn variable_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > MAX_VARIABLE_NAME {
        return Some(format!("{name:?} must be 1 to {MAX_VARIABLE_NAME} characters"));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!("{name:?} is not a valid variable name (letters, digits and _, not starting with a digit)"));
    }
    if name.to_ascii_uppercase().starts_with("AWSAPPRUNNER") {
        return Some(format!("{name:?} is reserved by App Runner"));
    }
    None
}

/// Settings a staging copy of production must run with switched off: `DEBUG` would serve
/// Django's debug pages (settings, environment, stack frames with production's data).
pub const OFF_IN_STAGING: [&str; 1] = ["DEBUG"];
/// The spellings of "off" a Django settings module reads as false whichever common way it reads
/// the variable (`== "True"`, django-environ's `env.bool`, `strtobool`). Anything else may read as
/// on (django-environ takes `ok` and `y`, strtobool `t`), so only these are accepted.
const OFF_SPELLINGS: [&str; 6] = ["false", "0", "no", "off", "n", "f"];

/// `DEBUG=True` (or `true`, `1`, `yes`, `on`, …) is refused in staging: only an unmistakable off
/// is accepted.
pub fn staging_setting_problem(name: &str, value: &str) -> Option<String> {
    (OFF_IN_STAGING.contains(&name) && !OFF_SPELLINGS.iter().any(|off| value.eq_ignore_ascii_case(off)))
        .then(|| format!("staging must run with {name}=False (got {value:?}): a copy of production data must not serve debug pages"))
}

/// S3 general purpose bucket names (Amazon S3 user guide, "Bucket naming rules"): 3 to 63
/// lowercase letters, digits, hyphens and dots, starting and ending with a letter or digit, no two
/// adjacent dots, not shaped like an IP address, and none of the prefixes and suffixes S3 reserves.
pub fn bucket_name_problem(name: &str) -> Option<String> {
    if !(3..=63).contains(&name.len()) {
        return Some(format!("{name:?} is not 3 to 63 characters long"));
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
        return Some(format!("{name:?} has a character other than lowercase letters, digits, '-' and '.'"));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return Some(format!("{name:?} must start and end with a letter or digit"));
    }
    if name.contains("..") {
        return Some(format!("{name:?} has two adjacent dots"));
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Some(format!("{name:?} is formatted as an IP address"));
    }
    let reserved_prefix = ["xn--", "sthree-", "amzn-s3-demo-"].into_iter().find(|p| name.starts_with(p));
    let reserved_suffix = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].into_iter().find(|s| name.ends_with(s));
    if let Some(reserved) = reserved_prefix.or(reserved_suffix) {
        return Some(format!("{name:?} uses {reserved:?}, which S3 reserves"));
    }
    None
}

/// S3 object keys are at most 1024 bytes of UTF-8.
pub const MAX_OBJECT_KEY: usize = 1024;

/// A key (or key prefix) inside the bucket: never an `s3://` or other URL, never absolute, and no
/// empty, `.` or `..` segment that would name something beside what it seems to.
pub fn object_key_problem(key: &str) -> Option<String> {
    if key.len() > MAX_OBJECT_KEY {
        return Some(format!("is {} bytes; an S3 key is at most {MAX_OBJECT_KEY}", key.len()));
    }
    if key.contains("://") {
        return Some(format!("{key:?} is a URL: give a key inside the bucket"));
    }
    if key.starts_with('/') {
        return Some(format!("{key:?} starts with '/': give a key relative to the bucket"));
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return Some(format!("{key:?} has a control character or a backslash"));
    }
    if key.trim_end_matches('/').split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..") {
        return Some(format!("{key:?} has an empty, '.' or '..' segment"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameter_paths_follow_ssm_and_refuse_dot_segments() {
        assert_eq!(parameter_path_problem("/tableicty/staging/"), None);
        assert_eq!(parameter_path_problem("/a.b/c-d_e/"), None);
        for bad in ["/tableicty/../production/", "/tableicty/./staging/", "/tableicty//staging/", "/x y/", "/aws/x/", "/SSMx/y/", "x/y/"] {
            assert!(parameter_path_problem(bad).is_some(), "{bad}");
        }
        let deepest = format!("/{}", "a/".repeat(MAX_PARAMETER_LEVELS - 1));
        assert_eq!(parameter_path_problem(&deepest), None, "room for the parameter's own level");
        assert!(parameter_path_problem(&format!("{deepest}a/")).unwrap().contains("levels"));
        assert!(parameter_path_problem(&format!("/{}/", "a".repeat(MAX_PARAMETER_PATH))).unwrap().contains("characters"));
        assert_eq!(parameter_name_problem("/tableicty/rehearsal/TEST_ADMIN_PASSWORD"), None);
        for bad in ["TEST", "/a/../b", "/a//b", "/a/", &format!("/{}", "a".repeat(MAX_PARAMETER_NAME))] {
            assert!(parameter_name_problem(bad).is_some(), "{bad}");
        }
        assert!(parameter_name_problem(&format!("/{}", ["a"; MAX_PARAMETER_LEVELS + 1].join("/"))).unwrap().contains("levels"));
    }

    #[test]
    fn arns_are_checked_for_service_type_partition_region_and_account() {
        assert_eq!(iam_role_arn_problem("arn:aws:iam::123456789012:role/rehearsal-staging-instance"), None);
        assert_eq!(iam_role_arn_problem("arn:aws-us-gov:iam::123456789012:role/service-role/x"), None);
        for bad in [
            "arn:aws:iam::123456789012:user/rehearsal-staging-instance",
            "arn:aws:s3::123456789012:role/rehearsal-staging-instance",
            "arn:gcp:iam::123456789012:role/rehearsal-staging-instance",
            "arn:aws:iam::12345678901:role/rehearsal-staging-instance",
            "arn:aws:iam:us-east-1:123456789012:role/rehearsal-staging",
            &format!("arn:aws:iam::123456789012:role/{}", "r".repeat(65)),
            "arn:aws:iam::123456789012:role/a b",
            "arn:aws:iam::123456789012:role/réle",
        ] {
            assert!(iam_role_arn_problem(bad).is_some(), "{bad}");
        }
        let connection = "arn:aws:apprunner:us-east-1:123456789012:connection/tableicty-github/0c9f1e2d3b4a49587a6b5c4d3e2f1a0b";
        assert_eq!(connection_arn_problem(connection), None);
        for bad in [
            "arn:aws:apprunner:us-east-1:123456789012:service/tableicty-github/0c9f",
            "arn:aws:apprunner:useast:123456789012:connection/tableicty-github/0c9f",
            "arn:aws:codestar:us-east-1:123456789012:connection/tableicty-github/0c9f",
            "arn:aws:apprunner:us-east-1:123456789012:connection/gh/0c9f",
        ] {
            assert!(connection_arn_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(vpc_connector_problem("tableicty-vpc-connector"), None);
        assert_eq!(vpc_connector_problem("arn:aws:apprunner:us-east-1:123456789012:vpcconnector/tableicty-vpc-connector/1/3a8e5c1f"), None);
        assert!(vpc_connector_problem("vpc").is_some());
        assert!(vpc_connector_problem("arn:aws:apprunner:us-east-1:123456789012:vpcconnector/tableicty-vpc-connector/1").is_some());
        assert!(vpc_connector_problem("arn:aws:apprunner:us-east-1:123456789012:connection/tableicty-vpc/1/3a8e").is_some());
        assert_eq!(execution_arn_problem("arn:aws:states:us-east-1:123456789012:execution:rehearsal-staging:staging-42"), None);
        for bad in [
            "arn:aws:states:us-east-1:123456789012:stateMachine:rehearsal-staging",
            "arn:aws:states:us-east-1:123456789012:execution:rehearsal-staging:a b",
            "arn:aws:lambda:us-east-1:123456789012:execution:rehearsal-staging:x",
            &format!("arn:aws:states:us-east-1:123456789012:execution:m:{}", "x".repeat(81)),
        ] {
            assert!(execution_arn_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(principal_arn_problem("arn:aws:iam::123456789012:user/dev", 2048), None);
        assert_eq!(principal_arn_problem("arn:aws:sts::123456789012:assumed-role/Ops/jane@example.com", 2048), None);
        assert_eq!(principal_arn_problem("arn:aws:iam::123456789012:root", 2048), None);
        assert!(principal_arn_problem("arn:aws:sts::123456789012:role/Ops", 2048).is_some());
        assert!(principal_arn_problem("arn:aws:iam::123456789012:user/dev", 10).is_some());
    }

    #[test]
    fn emails_paths_branches_and_commands() {
        assert_eq!(email_problem("testadmin@tableicty.com"), None);
        for bad in ["testadmin", "a@b", "a b@c.com", "@c.com", &format!("{}@c.com", "a".repeat(65))] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(url_path_problem("/api/v1/health/"), None);
        for bad in ["api/v1", "/api/../admin/", "/a b", "/a?x=1", &format!("/{}", "a".repeat(MAX_URL_PATH))] {
            assert!(url_path_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(https_url_problem("https://github.com/tableicty/tableicty-backend"), None);
        assert!(https_url_problem("http://github.com/x").is_some() && https_url_problem("https://a b").is_some());
        assert_eq!(branch_problem("release/2026-11"), None);
        for bad in ["", "-x", "a..b", "a b", "x.lock", "a/", "a~1", "@"] {
            assert!(branch_problem(bad).is_some(), "{bad:?}");
        }
        assert_eq!(db_instance_class_problem("db.t4g.micro"), None);
        assert!(db_instance_class_problem("db.t3.micro; x").is_some() && db_instance_class_problem("db.t3.").is_some());
        assert_eq!(command_problem("pip install -r requirements.txt"), None);
        assert!(command_problem("make\nrm -rf /").is_some() && command_problem(" ").is_some());
    }

    #[test]
    fn variables_and_debug_in_staging() {
        assert_eq!(variable_name_problem("ALLOWED_HOSTS"), None);
        for bad in ["", "1X", "A-B", "AWSAPPRUNNER_X", &"A".repeat(129)] {
            assert!(variable_name_problem(bad).is_some(), "{bad}");
        }
        for on in ["True", "true", "1", "yes", "on", "TRUE", "y", "t", "False ", ""] {
            assert!(staging_setting_problem("DEBUG", on).is_some(), "{on:?}");
        }
        for off in ["False", "false", "0", "no", "off", "OFF"] {
            assert_eq!(staging_setting_problem("DEBUG", off), None, "{off:?}");
        }
        assert_eq!(staging_setting_problem("ALLOWED_HOSTS", "True"), None);
    }

    #[test]
    fn documents_and_their_strings_are_bounded() {
        assert!(check_document_size(&json!({"app": "tableicty"})).is_ok());
        let field = |doc: Value| match check_document_size(&doc) {
            Err(StepError::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(json!({"service": {"branch": "b".repeat(MAX_STRING_BYTES + 1)}})), "service.branch");
        assert_eq!(field(json!({"stripe": {"webhook_events": ["ok", "e".repeat(MAX_STRING_BYTES + 1)]}})), "stripe.webhook_events[1]");
        assert_eq!(field(json!({"service": {"environment": {"K".repeat(MAX_STRING_BYTES + 1): "v"}}})), "service.environment");
        let many: serde_json::Map<String, Value> = (0..20).map(|i| (format!("K{i}"), json!("v".repeat(MAX_STRING_BYTES)))).collect();
        assert_eq!(field(json!({"service": {"environment": many}})), "(document)");
    }
}
