//! The citizen side (ASSUMPTION — no public contract): dossiers submitted on the portal
//! itself are pushed to the province's receiver as
//! `POST <receiver_url>` with `Authorization: Bearer <receiver_token>` and the body
//! `{"service":"DongBoHoSoDVCQG","data":[<dossier object>]}`, one dossier per request.
//!
//! The push client is plain HTTP: its TLS configuration has no trusted roots, so `https`
//! receivers fail (the simulator pushes over loopback only).

use super::config::DvcqgConfig;
use super::records::CitizenPush;
use crate::rng::Rng;
use jiff::Timestamp;
use lienthong_dvcqg::time;
use lienthong_dvcqg::wire::DossierItem;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// The service name of the push (ASSUMPTION).
pub const PUSH_SERVICE: &str = "DongBoHoSoDVCQG";

/// At most this many dossiers are generated per admin call.
pub const MAX_GENERATED: usize = 1000;

/// A citizen-side push that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CitizenError {
    /// `receiver_url` is not configured.
    #[error("receiver_url is not configured")]
    NoReceiver,
    /// Nothing to generate dossiers from.
    #[error("the procedure catalogue is empty")]
    NoProcedures,
    /// More than [`MAX_GENERATED`] dossiers asked for.
    #[error("at most {MAX_GENERATED} dossiers can be generated at once")]
    TooMany,
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

const FAMILY: &[&str] = &["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Đặng"];
const MIDDLE: &[&str] = &["Văn", "Thị", "Hữu", "Minh", "Ngọc"];
const GIVEN: &[&str] = &["An", "Bình", "Hà", "Lan", "Nam", "Thảo", "Tuấn"];

fn pick<'a>(rng: &mut Rng, items: &'a [&'a str]) -> &'a str {
    items[rng.below(items.len() as u64) as usize]
}

/// `count` simple online dossiers, deterministic for `seed` apart from the dates (now)
/// and the counter part of the code, which continues from `counter`.
///
/// Code: `{unit}-{yyMMdd}-{9NNNN}` — a unit of the agency catalogue (level other than 1,
/// else the first), today's date and a 5-digit counter from 90001, a range the provincial
/// generator does not use.
pub(crate) fn generate(
    config: &DvcqgConfig,
    count: usize,
    seed: u64,
    counter: &mut u32,
    now: Timestamp,
) -> Result<Vec<DossierItem>, CitizenError> {
    if count > MAX_GENERATED {
        return Err(CitizenError::TooMany);
    }
    if config.procedures.is_empty() {
        return Err(CitizenError::NoProcedures);
    }
    let mut units: Vec<(&str, &str)> = config
        .agencies
        .iter()
        .filter(|a| a.level.trim() != "1")
        .map(|a| (a.code.as_str(), a.name.as_str()))
        .collect();
    if units.is_empty() {
        units = config
            .agencies
            .iter()
            .map(|a| (a.code.as_str(), a.name.as_str()))
            .collect();
    }
    let fallback = format!("000.00.00.{}", config.province_code.trim());
    if units.is_empty() {
        units.push((&fallback, ""));
    }
    let stamp = time::format(now).unwrap_or_default();
    let day = stamp.get(2..8).unwrap_or("000000");
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        *counter += 1;
        let p = &config.procedures[rng.below(config.procedures.len() as u64) as usize];
        let (unit, unit_name) = units[rng.below(units.len() as u64) as usize];
        let name = format!(
            "{} {} {}",
            pick(&mut rng, FAMILY),
            pick(&mut rng, MIDDLE),
            pick(&mut rng, GIVEN)
        );
        let field = p.fields.first();
        out.push(DossierItem {
            MaHoSo: format!("{unit}-{day}-{}", 90_000 + *counter),
            MaTTHC: p.code.clone(),
            TenTTHC: p.name.clone(),
            MaLinhVuc: field.map(|f| f.code.clone()).unwrap_or_default(),
            TenLinhVuc: field.map(|f| f.name.clone()).unwrap_or_default(),
            KenhThucHien: "2".into(),
            ChuHoSo: name.clone(),
            LoaiDoiTuong: "1".into(),
            MaDoiTuong: format!("techid-{}", rng.digits(10)),
            SoDienThoai: format!("09{}", rng.digits(8)),
            TrichYeuHoSo: format!("{} - {name}", p.name),
            NgayTiepNhan: stamp.clone(),
            TrangThaiHoSo: "1".into(),
            HinhThuc: "0".into(),
            DonViXuLy: unit_name.to_owned(),
            HoSoCoThanhPhanSoHoa: "0".into(),
            TaiKhoanDuocXacThucVoiVNeID: "1".into(),
            DuocThanhToanTrucTuyen: "0".into(),
            NgayNopHoSo: Some(stamp.clone()),
            ..DossierItem::default()
        });
    }
    Ok(out)
}

/// The push body: `service` first, then `data`.
pub(crate) fn push_body(item: &DossierItem) -> String {
    let item = serde_json::to_string(item).unwrap_or_else(|_| "{}".to_owned());
    format!("{{\"service\":\"{PUSH_SERVICE}\",\"data\":[{item}]}}")
}

/// A plain-HTTP client (TLS configured without trusted roots).
pub(crate) fn http_client() -> Result<reqwest::Client, CitizenError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CitizenError::Client(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| CitizenError::Client(e.to_string()))
}

/// Pushes each item in turn; every outcome is recorded, failures included.
pub(crate) async fn push(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    items: Vec<DossierItem>,
) -> Vec<CitizenPush> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut req = client
            .post(url)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Accept", "application/json")
            .body(push_body(&item));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let time = Timestamp::now();
        let push = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                CitizenPush {
                    time,
                    item,
                    delivered: status.is_success(),
                    http_status: Some(status.as_u16()),
                    response: Some(text.chars().take(4000).collect()),
                    error: None,
                }
            }
            Err(e) => CitizenPush {
                time,
                item,
                delivered: false,
                http_status: None,
                response: None,
                error: Some(e.to_string()),
            },
        };
        out.push(push);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lienthong_dvcqg::read::validate_dossier_item;

    #[test]
    fn generated_dossiers_are_valid_and_deterministic() {
        let c = DvcqgConfig::default();
        let now = Timestamp::from_second(1_741_932_000).expect("instant");
        let mut n = 0;
        let a = generate(&c, 5, 9, &mut n, now).expect("generated");
        let mut m = 0;
        let b = generate(&c, 5, 9, &mut m, now).expect("generated");
        assert_eq!(a, b);
        assert_eq!(n, 5);
        for item in &a {
            let mut f = Vec::new();
            validate_dossier_item(item, "", &mut f);
            assert!(f.is_empty(), "{f:?}");
            assert!(item.MaHoSo.contains("-250314-9000"), "{}", item.MaHoSo);
            assert!(
                item.MaHoSo
                    .split('-')
                    .next()
                    .is_some_and(|p| p.contains("H41"))
            );
        }
        let body: serde_json::Value = serde_json::from_str(&push_body(&a[0])).expect("json");
        assert_eq!(body["service"], PUSH_SERVICE);
        assert_eq!(body["data"][0]["MaHoSo"], a[0].MaHoSo.as_str());
        assert_eq!(
            generate(&c, 1001, 1, &mut n, now),
            Err(CitizenError::TooMany)
        );
    }
}
