"""Text of the parts-request review agent, in Korean and English (string constants only)."""

CHECK_TITLES: dict[str, dict[str, str]] = {
    "approval": {"ko": "구매 승인 한도", "en": "Purchase approval limits"},
    "stock": {"ko": "재주문 기준점", "en": "Reorder point"},
    "usage": {"ko": "사용량 대비 수량", "en": "Quantity against usage"},
    "lead_time": {"ko": "긴급 발주 리드타임", "en": "Emergency lead time"},
    "hazardous": {"ko": "위험물 보관", "en": "Hazardous materials"},
}

FINDINGS: dict[str, dict[str, str]] = {
    "approval": {
        "ko": "주문 금액 {value}이 팀장 승인 한도 {limit}를 넘어 운영 관리자 승인이 필요합니다.",
        "en": "The order value of {value} is above the team lead's limit of {limit}: "
        "the operations manager must approve it.",
    },
    "stock": {
        "ko": "{part}의 재고 {held}가 재주문 기준점 {reorder} 이상입니다.",
        "en": "{part} already has {held} in stock, at or above its reorder point of {reorder}.",
    },
    "usage": {
        "ko": "{part} 요청 수량이 최근 평균 사용량의 {months}개월분을 넘습니다; {cap}로 줄이기를 권장합니다.",
        "en": "{part}: the quantity is more than {months} months of recent average use; "
        "{cap} is recommended.",
    },
    "lead_time": {
        "ko": "{part}의 공급 리드타임이 {days}일입니다; 다른 창고의 재고 이동을 검토하세요.",
        "en": "{part} has a supplier lead time of {days} days: consider a transfer from another warehouse.",
    },
    "hazardous": {
        "ko": "{part}는 위험물 보관 규정에 따라 보관해야 합니다.",
        "en": "{part} must be stored under the hazardous materials rule.",
    },
}

PURPOSES: dict[str, dict[str, str]] = {
    "emergency": {"ko": "긴급 수리", "en": "emergency repair"},
    "maintenance": {"ko": "정비", "en": "maintenance"},
    "project": {"ko": "신규 설치·프로젝트", "en": "a new installation or project"},
    "replenishment": {"ko": "재고 보충", "en": "stock replenishment"},
    "unspecified": {"ko": "밝히지 않은 목적", "en": "an unstated purpose"},
}

APPROVAL_QUESTION = {
    "ko": "주문 금액 {value}이 승인 한도 {limit}를 넘습니다. 이 요청을 승인하시겠습니까?",
    "en": "The order value of {value} is above the approval limit of {limit}. Approve this request?",
}

RECOMMENDATION = {
    "ko": "{purpose} 목적의 부품 요청({count}개 품목)을 검토했습니다. {verdict} "
    "권장 주문 금액은 {value}입니다. {changes}{warnings}",
    "en": "I reviewed this parts request ({count} item(s), for {purpose}). {verdict} "
    "The recommended order value is {value}. {changes}{warnings}",
}

VERDICTS = {
    "limit": {
        "ko": "승인 한도 이내이므로 진행을 권장합니다.",
        "en": "It is within the approval limit: I recommend going ahead.",
    },
    "approved": {
        "ko": "승인되었으므로 진행을 권장합니다.",
        "en": "It was approved: I recommend going ahead.",
    },
    "rejected": {
        "ko": "승인되지 않았으므로 주문하지 마세요.",
        "en": "It was not approved: do not place the order.",
    },
}

TRIMMED = {
    "ko": "{part} 수량을 {requested}에서 {recommended}로 줄였습니다. ",
    "en": "{part} is trimmed from {requested} to {recommended}. ",
}

WARNINGS_INTRO = {"ko": "확인할 점: ", "en": "To note: "}

NOTE = {"ko": " 승인자 메모: {note}", "en": " Approver's note: {note}"}

NO_PARTS = {
    "ko": "요청에서 카탈로그에 있는 부품 번호를 찾지 못했습니다{unknown}. "
    "부품 번호와 수량을 적어 다시 요청해 주세요 (예: ABC-12345 40개, 3라인 정비용).",
    "en": "I found no catalogue part number in this request{unknown}. Send it again with part "
    "numbers and quantities (e.g. 40 x ABC-12345 for the line 3 pump overhaul).",
}

TABLE_TITLE = {"ko": "권장 주문", "en": "Recommended order"}

TABLE_COLUMNS = {
    "ko": ["부품 번호", "품명", "요청 수량", "권장 수량", "단가", "금액"],
    "en": ["Part", "Name", "Requested", "Recommended", "Unit price", "Value"],
}

STAGE_TEXT = {
    "check_started": "Checking: {title}",
    "check_done": "{title}: {verdict}",
}
