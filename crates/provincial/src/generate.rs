//! Deterministic, realistic dossiers and progress steps (for the demo, load tests and
//! property tests): several procedures, units and channels, on-time and late cases,
//! refusals, supplement requests, several versions and steps per dossier. The same seed
//! gives the same output; dossiers and steps of one seed belong together.
//!
//! All people, numbers and addresses are invented.

use jiff::{SignedDuration, Timestamp};
use lienthong_model::{
    Applicant, ApplicantCategory, Channel, Dossier, DossierStatus, Fee, Handler, IdentityDocument,
    IdentityKind, OnlinePayment, Procedure, ProgressStep, ResultDelivery, ResultDocument,
    SubmittedDocument, SupplementRequest, Unit,
};

/// A small, fast, deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

struct Proc {
    code: &'static str,
    name: &'static str,
    field_code: &'static str,
    field_name: &'static str,
    unit: usize,
    days: i64,
    fee: u64,
    docs: &'static [&'static str],
    result: &'static str,
}

const UNITS: &[(&str, &str)] = &[
    ("000.00.12.H41", "Sở Tư pháp tỉnh Nghệ An"),
    ("000.00.15.H41", "Sở Xây dựng tỉnh Nghệ An"),
    ("000.00.08.H41", "Sở Kế hoạch và Đầu tư tỉnh Nghệ An"),
    ("000.00.20.H41", "Sở Tài nguyên và Môi trường tỉnh Nghệ An"),
    (
        "000.00.11.H41",
        "Sở Lao động - Thương binh và Xã hội tỉnh Nghệ An",
    ),
    ("000.00.03.H41", "Sở Giáo dục và Đào tạo tỉnh Nghệ An"),
];

const PROCEDURES: &[Proc] = &[
    Proc {
        code: "2.000477",
        name: "Cấp bản sao trích lục hộ tịch",
        field_code: "G12-HT01",
        field_name: "Hộ tịch",
        unit: 0,
        days: 1,
        fee: 8_000,
        docs: &[
            "Tờ khai cấp bản sao trích lục hộ tịch",
            "Căn cước công dân (bản sao)",
        ],
        result: "Bản sao trích lục hộ tịch",
    },
    Proc {
        code: "1.001193.000.00.00.H41",
        name: "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
        field_code: "G12-LL01",
        field_name: "Lý lịch tư pháp",
        unit: 0,
        days: 10,
        fee: 200_000,
        docs: &[
            "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp",
            "Bản chụp giấy tờ tùy thân",
        ],
        result: "Phiếu lý lịch tư pháp số 1",
    },
    Proc {
        code: "1.009972.000.00.00.H41",
        name: "Cấp giấy phép xây dựng mới đối với công trình cấp II",
        field_code: "G13-XD02",
        field_name: "Hoạt động xây dựng",
        unit: 1,
        days: 20,
        fee: 150_000,
        docs: &[
            "Đơn đề nghị cấp giấy phép xây dựng",
            "Bản vẽ thiết kế xây dựng",
            "Giấy tờ về quyền sử dụng đất",
        ],
        result: "Giấy phép xây dựng",
    },
    Proc {
        code: "2.001610",
        name: "Đăng ký thành lập công ty TNHH hai thành viên trở lên",
        field_code: "G08-DN01",
        field_name: "Thành lập và hoạt động của doanh nghiệp",
        unit: 2,
        days: 3,
        fee: 50_000,
        docs: &[
            "Giấy đề nghị đăng ký doanh nghiệp",
            "Điều lệ công ty",
            "Danh sách thành viên",
        ],
        result: "Giấy chứng nhận đăng ký doanh nghiệp",
    },
    Proc {
        code: "1.003560.000.00.00.H41",
        name: "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        field_code: "G11-DD01",
        field_name: "Đất đai",
        unit: 3,
        days: 10,
        fee: 30_000,
        docs: &[
            "Đơn đăng ký biến động đất đai",
            "Bản gốc Giấy chứng nhận đã cấp",
            "Hợp đồng chuyển nhượng",
        ],
        result: "Giấy chứng nhận quyền sử dụng đất",
    },
    Proc {
        code: "2.000205.000.00.00.H41",
        name: "Cấp giấy phép lao động cho người lao động nước ngoài làm việc tại Việt Nam",
        field_code: "G14-LD05",
        field_name: "Việc làm",
        unit: 4,
        days: 5,
        fee: 600_000,
        docs: &[
            "Văn bản đề nghị cấp giấy phép lao động",
            "Giấy chứng nhận sức khỏe",
            "Hộ chiếu (bản sao chứng thực)",
        ],
        result: "Giấy phép lao động",
    },
    Proc {
        code: "1.005092",
        name: "Công nhận văn bằng tốt nghiệp do cơ sở giáo dục nước ngoài cấp",
        field_code: "G03-GD10",
        field_name: "Văn bằng, chứng chỉ",
        unit: 5,
        days: 15,
        fee: 0,
        docs: &[
            "Đơn đề nghị công nhận văn bằng",
            "Bản sao văn bằng và bảng điểm",
        ],
        result: "Giấy công nhận văn bằng",
    },
];

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô",
];
const MIDDLE: &[&str] = &[
    "Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Xuân", "Quốc", "Thu",
];
const GIVEN: &[&str] = &[
    "An", "Bình", "Cường", "Dũng", "Hà", "Hạnh", "Hùng", "Lan", "Linh", "Mai", "Nam", "Phương",
    "Quân", "Thảo", "Trang", "Tuấn", "Yến", "Đạt",
];
const COMPANIES: &[&str] = &[
    "Công ty TNHH Thương mại Hồng Lam",
    "Công ty Cổ phần Xây dựng Sông Lam",
    "Công ty TNHH Nông sản Phủ Quỳ",
    "Công ty TNHH Du lịch Cửa Lò Xanh",
];
const STREETS: &[&str] = &[
    "Lê Lợi",
    "Trường Thi",
    "Nguyễn Du",
    "Quang Trung",
    "Phan Đình Phùng",
    "Hồ Tùng Mậu",
];
const PLACES: &[&str] = &[
    "phường Hưng Dũng, TP Vinh",
    "phường Trường Thi, TP Vinh",
    "thị xã Cửa Lò",
    "xã Nghi Phú, TP Vinh",
    "thị trấn Quán Hành, huyện Nghi Lộc",
];
const OFFICIALS: &[(&str, &str, &str)] = &[
    ("Nguyễn Thị Hồng", "Chuyên viên", "Bộ phận Một cửa"),
    (
        "Trần Văn Lâm",
        "Phó Trưởng phòng",
        "Phòng Hành chính tư pháp",
    ),
    (
        "Lê Thị Thu Hà",
        "Trưởng phòng",
        "Phòng Quản lý chuyên ngành",
    ),
    ("Phạm Quốc Việt", "Phó Giám đốc", "Ban Giám đốc"),
];

/// One dossier's history: its successive versions and the steps between them.
#[derive(Debug, Clone)]
pub struct Story {
    /// Versions, oldest first (`version` 1, 2, …).
    pub versions: Vec<Dossier>,
    /// Processing steps, `step_seq` 1, 2, …
    pub steps: Vec<ProgressStep>,
}

/// Generates dossier stories deterministically.
#[derive(Debug, Clone)]
pub struct Generator {
    rng: Rng,
    start: Timestamp,
    /// Per-unit, per-day counters for dossier codes.
    counters: std::collections::HashMap<(usize, i64), u32>,
    day: i64,
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// Moves a time into office hours (08:00–17:00, Vietnamese local time): a time in the
/// evening or at night moves to the next morning.
fn office(t: Timestamp) -> Timestamp {
    let vn = jiff::tz::Offset::constant(7);
    let local = vn.to_datetime(t);
    let hour = i64::from(local.hour());
    let shift = if hour >= 17 {
        24 - hour + 8
    } else if hour < 8 {
        8 - hour
    } else {
        0
    };
    t + hours(shift)
}

/// 17:00 Vietnamese local time, `days` days after `t`.
fn due_after(t: Timestamp, days: i64) -> Timestamp {
    let vn = jiff::tz::Offset::constant(7);
    let local = vn.to_datetime(t);
    let at17 = local
        .date()
        .to_datetime(jiff::civil::Time::constant(17, 0, 0, 0));
    let at17 = vn.to_timestamp(at17).unwrap_or(t);
    at17 + hours(24 * days)
}

impl Generator {
    /// A generator; the same seed gives the same stories.
    pub fn new(seed: u64) -> Self {
        // 2025-03-03 08:00 +07:00
        let start = Timestamp::from_second(1_740_963_600).unwrap_or(Timestamp::UNIX_EPOCH);
        Generator {
            rng: Rng::new(seed),
            start,
            counters: std::collections::HashMap::new(),
            day: 0,
        }
    }

    fn person(&mut self) -> String {
        format!(
            "{} {} {}",
            self.rng.pick(FAMILY),
            self.rng.pick(MIDDLE),
            self.rng.pick(GIVEN)
        )
    }

    /// The next dossier's story.
    pub fn story(&mut self) -> Story {
        let r = &mut self.rng;
        if r.chance(8) {
            self.day += 1;
        }
        let p = self.rng.pick(PROCEDURES);
        let (unit_code, unit_name) = UNITS[p.unit];
        let r = &mut self.rng;
        let submitted =
            self.start + SignedDuration::from_secs(self.day * 86_400 + r.below(8 * 3600) as i64);
        let r = &mut self.rng;
        let channel = *r.pick(&[
            Channel::InPerson,
            Channel::InPerson,
            Channel::Online,
            Channel::Online,
            Channel::Online,
            Channel::Postal,
        ]);
        let enterprise = p.unit == 2 || p.unit == 4 || (p.unit == 1 && r.chance(40));
        let name = if enterprise {
            (*self.rng.pick(COMPANIES)).to_owned()
        } else {
            self.person()
        };
        let r = &mut self.rng;
        let mut identity = Vec::new();
        if !enterprise {
            identity.push(IdentityDocument {
                kind: IdentityKind::CitizenId,
                number: format!("040{}{}", r.pick(&["0", "1", "2", "3"]), r.digits(8)),
            });
            if r.chance(10) {
                identity.push(IdentityDocument {
                    kind: IdentityKind::LegacyId,
                    number: format!("18{}", r.digits(7)),
                });
            }
        }
        let online = channel == Channel::Online;
        let applicant = Applicant {
            name: Some(name.clone()),
            category: Some(if enterprise {
                ApplicantCategory::Enterprise
            } else {
                ApplicantCategory::Citizen
            }),
            identity_documents: identity,
            portal_account: online.then(|| format!("techid-{}", r.digits(10))),
            vneid_verified: online.then(|| r.chance(70)),
            email: r
                .chance(60)
                .then(|| format!("nguoidan{}@example.vn", r.digits(4))),
            phone: Some(format!("09{}", r.digits(8))),
            fax: None,
            address: Some(format!(
                "Số {} đường {}, {}",
                1 + r.below(200),
                r.pick(STREETS),
                r.pick(PLACES)
            )),
        };
        let received = if online {
            office(submitted + hours(1 + r.below(20) as i64))
        } else {
            submitted
        };
        // the code carries the reception date and a per-unit daily counter (codes.md §4.1)
        let vn = jiff::tz::Offset::constant(7).to_datetime(received);
        let day_key = i64::from(vn.year()) * 1000 + i64::from(vn.date().day_of_year());
        let counter = self.counters.entry((p.unit, day_key)).or_insert(0);
        *counter += 1;
        let counter = *counter;
        let code = format!(
            "{unit_code}-{:02}{:02}{:02}-{counter:04}",
            vn.year() % 100,
            vn.month(),
            vn.day()
        );
        let r = &mut self.rng;
        let due = due_after(received, p.days);
        let refused = r.chance(6);
        let supplement = !refused && r.chance(15);
        let late = !refused && r.chance(12);
        let withdrawn = !refused && !late && r.chance(3);
        let finished = office(if late {
            due + hours(24 * (1 + r.below(5) as i64))
        } else {
            received + hours(((24 * p.days) as u64 * (30 + r.below(60)) / 100) as i64 + 2)
        });
        let finished = if !late && finished > due {
            due - hours(1)
        } else {
            finished
        };
        let returned = office(finished + hours(2 + r.below(48) as i64));
        let fee_paid_online = online && p.fee > 0 && r.chance(60);
        let base = Dossier {
            code: code.clone(),
            version: 1,
            unit: Unit {
                code: Some(unit_code.to_owned()),
                name: Some(unit_name.to_owned()),
            },
            procedure: Procedure {
                code: p.code.to_owned(),
                name: Some(p.name.to_owned()),
                field_code: Some(p.field_code.to_owned()),
                field_name: Some(p.field_name.to_owned()),
            },
            channel: Some(channel),
            applicant,
            summary: Some(format!("{} - {}", p.name, name)),
            other_info: None,
            note: None,
            status: Some(DossierStatus::Accepted),
            submitted_at: Some(submitted),
            received_at: Some(received),
            due_at: Some(due),
            result_delivery: Some(if channel == Channel::Postal || r.chance(20) {
                ResultDelivery::ByPost
            } else {
                ResultDelivery::AtOffice
            }),
            digitised: Some(online || r.chance(50)),
            online_payment: Some(if p.fee == 0 {
                OnlinePayment::None
            } else if fee_paid_online {
                *r.pick(&[OnlinePayment::DvcqgPlatform, OnlinePayment::OwnGateway])
            } else {
                OnlinePayment::NotPaidOnline
            }),
            submitted_documents: p
                .docs
                .iter()
                .enumerate()
                .map(|(i, name)| SubmittedDocument {
                    id: Some(format!("{}-tl{}", code, i + 1)),
                    name: (*name).to_owned(),
                    component_code: Some(format!("TPHS{:02}", i + 1)),
                    url: Some(format!(
                        "https://motcua.nghean.example.vn/files/{}/{}",
                        code,
                        i + 1
                    )),
                    deleted: false,
                    digitised: Some(online),
                    reused: Some(false),
                    from_citizen_store: Some(online && i == 0),
                    replaces_result_code: None,
                })
                .collect(),
            fees: if p.fee > 0 {
                vec![Fee {
                    code: Some(format!("LP-{}", &p.code[..8])),
                    name: format!("Lệ phí {}", p.name.to_lowercase()),
                    amount: p.fee,
                    collection_method: Some(
                        if fee_paid_online {
                            "Trực tuyến"
                        } else {
                            "Tiền mặt"
                        }
                        .to_owned(),
                    ),
                    kind: Some("Lệ phí".to_owned()),
                }]
            } else {
                Vec::new()
            },
            ..Dossier::default()
        };
        let mut versions = Vec::new();
        let mut steps = Vec::new();
        let mut seq = 0;
        let mut step = |steps: &mut Vec<ProgressStep>,
                        rng: &mut Rng,
                        at: Timestamp,
                        action: &str,
                        status: DossierStatus,
                        who: usize| {
            seq += 1;
            let (name, title, dept) = OFFICIALS[who.min(OFFICIALS.len() - 1)];
            let _ = rng;
            steps.push(ProgressStep {
                dossier_code: code.clone(),
                step_seq: seq,
                handler: Handler {
                    name: name.to_owned(),
                    title: Some(title.to_owned()),
                    department: Some(dept.to_owned()),
                },
                at: Some(at),
                action: action.to_owned(),
                status: Some(status),
                started_at: Some(at - hours(1)),
                deadline_at: Some(due),
            });
        };
        let r = &mut self.rng;
        if refused {
            let at = received + hours(2);
            let mut v = base.clone();
            v.status = Some(DossierStatus::NotAccepted);
            v.refused_at = Some(at);
            v.return_info = Some("Hồ sơ không thuộc thẩm quyền giải quyết".to_owned());
            v.due_at = None;
            step(
                &mut steps,
                r,
                at,
                "Từ chối tiếp nhận: hồ sơ không thuộc thẩm quyền",
                DossierStatus::NotAccepted,
                0,
            );
            versions.push(v);
        } else {
            versions.push(base.clone());
            step(
                &mut steps,
                r,
                received,
                "Tiếp nhận hồ sơ",
                DossierStatus::Accepted,
                0,
            );
            let mut v = base.clone();
            v.status = Some(DossierStatus::Processing);
            step(
                &mut steps,
                r,
                received + hours(3),
                "Chuyển xử lý chuyên môn",
                DossierStatus::Processing,
                1,
            );
            if supplement {
                let asked = received + hours(26);
                let got = asked + hours(48);
                v.supplement_requests.push(SupplementRequest {
                    id: Some(format!("{code}-bs1")),
                    requested_by: Some(OFFICIALS[1].0.to_owned()),
                    content: "Bổ sung bản sao giấy tờ chứng minh quyền sử dụng đất".to_owned(),
                    requested_at: Some(asked),
                    received_by: Some(OFFICIALS[0].0.to_owned()),
                    receipt_info: Some("Đã nhận đủ giấy tờ bổ sung".to_owned()),
                    received_at: Some(got),
                    status: Some("Đã bổ sung".to_owned()),
                    previous_due_at: Some(due),
                    new_due_at: Some(due + hours(48)),
                });
                v.due_at = Some(due + hours(48));
                step(
                    &mut steps,
                    r,
                    asked,
                    "Yêu cầu bổ sung hồ sơ",
                    DossierStatus::SupplementRequested,
                    1,
                );
                step(
                    &mut steps,
                    r,
                    got,
                    "Tiếp nhận hồ sơ bổ sung",
                    DossierStatus::Processing,
                    0,
                );
            }
            versions.push(v.clone());
            if withdrawn {
                let at = received + hours(30);
                v.status = Some(DossierStatus::Withdrawn);
                v.finished_at = Some(at);
                v.note = Some("Công dân xin rút hồ sơ".to_owned());
                step(
                    &mut steps,
                    r,
                    at,
                    "Công dân rút hồ sơ",
                    DossierStatus::Withdrawn,
                    0,
                );
                versions.push(v);
            } else {
                let finished = if supplement {
                    finished + hours(48)
                } else {
                    finished
                };
                let returned = if supplement {
                    returned + hours(48)
                } else {
                    returned
                };
                v.status = Some(DossierStatus::Finished);
                v.finished_at = Some(finished);
                step(
                    &mut steps,
                    r,
                    finished - hours(2),
                    "Trình ký kết quả",
                    DossierStatus::Processing,
                    2,
                );
                step(
                    &mut steps,
                    r,
                    finished,
                    "Phê duyệt, ký kết quả",
                    DossierStatus::Finished,
                    3,
                );
                versions.push(v.clone());
                if r.chance(85) {
                    v.status = Some(DossierStatus::Returned);
                    v.returned_at = Some(returned);
                    v.return_info = Some(format!("Đã trả {}", p.result.to_lowercase()));
                    v.result_documents.push(ResultDocument {
                        id: Some(format!("{code}-kq1")),
                        name: p.result.to_owned(),
                        component_code: Some("KQ01".to_owned()),
                        url: Some(format!("https://motcua.nghean.example.vn/ketqua/{code}")),
                        result_code: Some(format!("KQ-{}", &code[code.len() - 4..])),
                    });
                    step(
                        &mut steps,
                        r,
                        returned,
                        "Trả kết quả cho công dân",
                        DossierStatus::Returned,
                        0,
                    );
                    versions.push(v);
                }
            }
        }
        for (i, v) in versions.iter_mut().enumerate() {
            v.version = i as u64 + 1;
        }
        Story { versions, steps }
    }

    /// `count` dossier versions, story after story (each story's versions in order).
    pub fn dossiers(&mut self, count: usize) -> Vec<Dossier> {
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let s = self.story();
            out.extend(s.versions.into_iter().take(count - out.len()));
        }
        out
    }

    /// `count` progress steps of the same stories as [`Generator::dossiers`] with the
    /// same seed.
    pub fn progress(&mut self, count: usize) -> Vec<ProgressStep> {
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let s = self.story();
            out.extend(s.steps.into_iter().take(count - out.len()));
        }
        out
    }
}
