"""Demo accounts for ``make run``: one per role at the four sites, password ``mutu-demo``.

Loading is idempotent: existing accounts and everything users entered are left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import signatures
from .clock import Clock
from .identity import create_user
from .models import HumanTask, ProcessInstance, ProcessVersion, User
from .models_registers import Supplier
from .runtime import ProcessEngine

DEMO_PASSWORD = "mutu-demo"

# fmt: off
DEMO_USERS: list[dict] = [
    {"username": "qmr", "roles": ["qmr"], "agent_code": "30001", "full_name": "Ratna Wijaya", "site": "Bandung"},
    {"username": "director", "roles": ["director"], "agent_code": "50001", "full_name": "Hendra Gunawan", "site": "Bandung"},
    {"username": "qc", "roles": ["quality_control"], "agent_code": "20001", "full_name": "Siti Rahmawati", "site": "Bandung"},
    {"username": "teamlead", "roles": ["team_leader"], "agent_code": "40001", "full_name": "Agus Santoso", "site": "Bandung"},
    {"username": "agent", "roles": ["agent"], "agent_code": "10001", "online_name": "Dewi-147", "full_name": "Dewi Lestari", "site": "Bandung"},
    {"username": "ops", "roles": ["operations_manager"], "agent_code": "60001", "full_name": "Budi Hartono", "site": "Bandung"},
    {"username": "ops.semarang", "roles": ["operations_manager"], "agent_code": "60002", "full_name": "Wahyu Nugroho", "site": "Semarang"},
    {"username": "ops.bogor", "roles": ["operations_manager"], "agent_code": "60003", "full_name": "Dian Permana", "site": "Bogor"},
    {"username": "ops.malang", "roles": ["operations_manager"], "agent_code": "60004", "full_name": "Nur Aini", "site": "Malang"},
    {"username": "procurement", "roles": ["procurement"], "agent_code": "70001", "full_name": "Maya Sari", "site": "Bandung"},
    {"username": "client", "roles": ["client_liaison"], "agent_code": None, "full_name": "Telkom liaison", "site": None},
    {"username": "qc.bogor", "roles": ["quality_control"], "agent_code": "20002", "full_name": "Rina Marlina", "site": "Bogor"},
    {"username": "qc.semarang", "roles": ["quality_control"], "agent_code": "20003", "full_name": "Eko Prasetyo", "site": "Semarang"},
    {"username": "qc.malang", "roles": ["quality_control"], "agent_code": "20004", "full_name": "Fitri Handayani", "site": "Malang"},
    {"username": "teamlead.bogor", "roles": ["team_leader"], "agent_code": "40002", "full_name": "Rudi Hermawan", "site": "Bogor"},
    {"username": "teamlead.semarang", "roles": ["team_leader"], "agent_code": "40003", "full_name": "Sri Wahyuni", "site": "Semarang"},
    {"username": "teamlead.malang", "roles": ["team_leader"], "agent_code": "40004", "full_name": "Bambang Setiawan", "site": "Malang"},
    {"username": "agent.bogor", "roles": ["agent"], "agent_code": "10002", "online_name": "Andi-108", "full_name": "Andi Saputra", "site": "Bogor"},
    {"username": "agent.semarang", "roles": ["agent"], "agent_code": "10003", "online_name": "Lina-147", "full_name": "Lina Kurniawati", "site": "Semarang"},
    {"username": "agent.malang", "roles": ["agent"], "agent_code": "10004", "online_name": "Yoga-IDH", "full_name": "Yoga Pratama", "site": "Malang"},
]
# fmt: on


def load_demo_users(session: Session, clock: Clock) -> list[str]:
    """Create the demo accounts that do not exist yet; return the names created."""
    existing = set(session.execute(select(User.username)).scalars())
    created = []
    for spec in DEMO_USERS:
        if spec["username"] in existing:
            continue
        user = create_user(
            session,
            spec["username"],
            DEMO_PASSWORD,
            spec["roles"],
            clock.now(),
            agent_code=spec["agent_code"],
            online_name=spec.get("online_name"),
            full_name=spec["full_name"],
            site=spec["site"],
            email=f"{spec['username']}@mutu.example",
        )
        if "agent" in spec["roles"]:
            user.team = f"Tim {spec['online_name'].split('-')[-1]} {spec['site']}"
        created.append(spec["username"])
    admin = session.execute(select(User).where(User.username == "admin")).scalar()
    if admin is not None and not admin.email:
        admin.email = "admin@mutu.example"
    return created


# Demo cases: (reporter, start data, steps as (bpmn id, username, form data)).
_NC_REPORT = {
    "source": "tapping",
    "service": "147",
    "site": "Bandung",
    "agent_code": "10001",
    "description": "Agen memberi informasi tarif IndiHome yang sudah tidak berlaku",
}
DEMO_CASES: list[tuple[str, str, dict, list[tuple[str, str, dict]]]] = [
    ("nonconformity", "qc", _NC_REPORT, []),
    (
        "nonconformity",
        "qc.bogor",
        {
            "source": "mystery_shopping",
            "service": "108",
            "site": "Bogor",
            "agent_code": "10002",
            "description": "Salam pembuka tidak sesuai SOP pada panggilan mystery shopping",
        },
        [("nc_triage", "qmr", {"is_nonconformity": True, "impact": "rendah", "repeated": False})],
    ),
    (
        "nonconformity",
        "qc.semarang",
        {
            "source": "kpi_analysis",
            "service": "indihome_digital",
            "site": "Semarang",
            "agent_code": "",
            "description": "Waktu tanggap media digital melampaui target KPI bulan ini",
        },
        [
            ("nc_triage", "qmr", {"is_nonconformity": True, "impact": "sedang", "repeated": True}),
            ("nc_contain", "teamlead.semarang", {"correction": "Penambahan agen pada jam sibuk"}),
            (
                "nc_rca",
                "teamlead.semarang",
                {
                    "method": "fishbone",
                    "fishbone_categories": ["manusia", "metode"],
                    "root_cause": "Jadwal shift tidak mengikuti pola beban",
                },
            ),
            (
                "nc_plan",
                "teamlead.semarang",
                {
                    "actions": [
                        {
                            "action": "Susun ulang jadwal shift",
                            "owner": "teamlead.semarang",
                            "due_date": "2026-12-15",
                        }
                    ]
                },
            ),
        ],
    ),
    (
        "nonconformity",
        "qc.malang",
        {
            "source": "customer_complaint",
            "service": "147",
            "site": "Malang",
            "agent_code": "",
            "description": "Keluhan pelanggan: panggilan diputus sebelum masalah selesai",
        },
        [
            (
                "nc_triage",
                "qmr",
                {"is_nonconformity": False, "rejection_reason": "Gangguan jaringan, bukan layanan"},
            )
        ],
    ),
    (
        "requirement_change",
        "client",
        {
            "change_type": "product",
            "service": "147",
            "pks_clause": "Pasal 5 ayat 2",
            "answer_days": 14,
            "description": "Penambahan informasi paket IndiHome baru pada layanan 147",
            "requested_effective_date": "2027-01-15",
        },
        [
            (
                "rc_confirm",
                "qmr",
                {"change_confirmed": True, "confirmation_note": "Dikonfirmasi dalam rapat bulanan"},
            ),
            (
                "rc_review_product",
                "qmr",
                {"requirements_defined": True, "product_notes": "Spesifikasi paket lengkap"},
            ),
        ],
    ),
    (
        "supplier_procurement",
        "ops",
        {
            "resource_type": "infrastructure",
            "specification": "20 unit headset noise-cancelling untuk agen 147",
            "quantity": 20,
            "estimated_value": 45000000,
            "pks_reference": "PKS 2025 lampiran 3",
            "site": "Bandung",
        },
        [
            ("sp_approve", "ops", {"request_approved": True}),
            ("sp_coordinate", "procurement", {"corporate_reference": "PROC-CORP-2026-011"}),
        ],
    ),
    (
        "release_monitoring",
        "qc",
        {},
        [
            (
                "rm_plan",
                "qc",
                {
                    "site": "Bandung",
                    "service": "147",
                    "period": "2026-11",
                    "pass_mark": 80,
                    "sampled_agents": [{"agent_code": "10001", "online_name": "Dewi-147"}],
                },
            )
        ],
    ),
    ("supplier_reevaluation", "procurement", {}, []),
    (
        "requirement_change",
        "qmr",
        {
            "change_type": "pks",
            "service": "108",
            "pks_clause": "Pasal 9 ayat 1",
            "answer_days": 10,
            "description": "Perubahan jam layanan Call Center 108 menjadi 24 jam pada akhir pekan",
            "requested_effective_date": "2027-02-01",
        },
        [
            (
                "rc_confirm",
                "qmr",
                {"change_confirmed": True, "confirmation_note": "Surat klien nomor 112/2026"},
            ),
            (
                "rc_review_product",
                "qmr",
                {"requirements_defined": True, "product_notes": "Tidak ada perubahan produk"},
            ),
            (
                "rc_review_pks",
                "client",
                {"pks_differences_resolved": True, "pks_notes": "Addendum disepakati"},
            ),
            (
                "rc_review_ops",
                "ops",
                {
                    "operation_capable": False,
                    "needs": ["people", "training"],
                    "ops_notes": "Perlu 12 agen tambahan",
                },
            ),
        ],
    ),
    (
        "supplier_procurement",
        "teamlead.semarang",
        {
            "resource_type": "service",
            "specification": "Jasa pelatihan produk IndiHome untuk 80 agen",
            "estimated_value": 350000000,
            "site": "Semarang",
        },
        [
            (
                "sp_approve",
                "ops.semarang",
                {"request_approved": False, "approval_note": "Pelatihan dilakukan oleh tim internal"},
            )
        ],
    ),
    (
        "release_monitoring",
        "qc.malang",
        {},
        [
            (
                "rm_plan",
                "qc.malang",
                {
                    "site": "Malang",
                    "service": "indihome_digital",
                    "period": "2026-10",
                    "pass_mark": 80,
                    "sampled_agents": [{"agent_code": "10004"}],
                },
            ),
            ("rm_tapping", "qc.malang", {"tapping_results": [{"agent_code": "10004", "score": 92}]}),
            ("rm_mystery", "qc.malang", {"mystery_results": [{"agent_code": "10004", "score": 88}]}),
            (
                "rm_propper",
                "qc.malang",
                {
                    "propper_results": [
                        {"agent_code": "10004", "product": 90, "procedure": 85, "behaviour": 93}
                    ]
                },
            ),
            ("rm_kpi", "ops.malang", {"kpis": [{"kpi": "Service level", "target": 80, "actual": 86}]}),
            (
                "rm_individual",
                "teamlead.malang",
                {"evaluations": [{"agent_code": "10004", "rating": "melampaui"}]},
            ),
            (
                "rm_evidence",
                "qc.malang",
                {"evidence_pack_ref": "EV-MLG-2026-10", "sent_to_client_on": "2026-11-04"},
            ),
        ],
    ),
    (
        "supplier_reevaluation",
        "procurement",
        {},
        [
            (
                "sr_evaluate",
                "procurement",
                {
                    "evaluations": [
                        {"supplier_name": "PT Audio Nusantara", "score": 86, "decision": "keep"},
                        {"supplier_name": "CV Jaringan Andalan", "score": 64, "decision": "probation"},
                    ]
                },
            )
        ],
    ),
]


DEMO_SUPPLIERS = [("PT Audio Nusantara", 84), ("PT Insan Prima Outsourcing", 78), ("CV Jaringan Andalan", 71)]


def load_demo_suppliers(session: Session, now: datetime) -> list[str]:
    """Approved suppliers with scores for the register, unless it already has suppliers."""
    if session.execute(select(Supplier.id).limit(1)).first() is not None:
        return []
    for name, score in DEMO_SUPPLIERS:
        session.add(
            Supplier(
                name=name,
                approved=True,
                score=score,
                evaluated_at=now,
                deliveries=0,
                valid_until=now + timedelta(days=365),
                updated_at=now,
            )
        )
    return [name for name, _ in DEMO_SUPPLIERS]


def load_demo_cases(session: Session, engine: ProcessEngine) -> list[int]:
    """Start the demo cases of each deployed process that has no case yet; return their ids."""
    deployed = set(session.execute(select(ProcessVersion.process_key).distinct()).scalars())
    used = set(session.execute(select(ProcessInstance.process_key).distinct()).scalars())
    users = {u.username: u for u in session.execute(select(User)).unique().scalars()}
    load_demo_suppliers(session, engine.clock.now())
    started: list[int] = []
    for key, reporter, data, steps in DEMO_CASES:
        if key not in deployed or key in used:
            continue  # demo cases only for processes nobody has used yet
        instance = engine.start(session, key, users[reporter], dict(data)).instance
        for bpmn_id, username, form in steps:
            task = session.execute(
                select(HumanTask).where(
                    HumanTask.instance_id == instance.id,
                    HumanTask.bpmn_id == bpmn_id,
                    HumanTask.status == "open",
                )
            ).scalar_one()
            signed = signatures.witnessed(users[username], engine.clock.now(), "demo")
            engine.complete(session, task.id, users[username], form, signature=signed)
        started.append(instance.id)
    return started
