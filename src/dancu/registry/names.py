"""Facts for the synthetic population: Vietnamese names and their rough frequencies, household relations,
address words, and the approximate population of each of the 34 provinces (2024 figures, merged as of
1 July 2025, in millions). Weights are relative; they need not sum to anything.
"""

from __future__ import annotations

# Family names (họ): the commonly cited shares in percent. Hoàng and Vũ are northern spellings of the same
# names as Huỳnh and Võ in the south; the centre uses both. "Other" names share the remaining ~10%.
FAMILY_COMMON: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.4), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.1), ("Phan", 4.5), ("Đặng", 2.1),
    ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5),
)
FAMILY_REGIONAL: dict[str, tuple[tuple[str, float], ...]] = {
    "north": (("Hoàng", 5.1), ("Vũ", 3.9)),
    "centre": (("Hoàng", 2.6), ("Huỳnh", 2.5), ("Võ", 2.4), ("Vũ", 1.5)),
    "south": (("Huỳnh", 5.1), ("Võ", 3.9)),
}
FAMILY_OTHER: tuple[str, ...] = (
    "Đinh", "Đào", "Đoàn", "Trương", "Lương", "Mai", "Trịnh", "Lâm", "Cao", "Hà", "Tạ", "Tô", "Chu", "Lưu",
    "Kiều", "Thái", "Quách", "La", "Vương", "Triệu", "Tăng", "Lục", "Nông", "Hứa", "Diệp", "Khúc", "Thân",
    "Châu", "Âu", "Doãn", "Giang", "Khổng", "Lại", "Mạc", "Nghiêm", "Ông", "Phùng", "Quan", "Tống", "Văn",
)
FAMILY_OTHER_SHARE = 10.0

# Middle names (tên đệm). Văn and Thị dominate older generations and fade in younger ones: the seeder
# scales the "traditional" weight by birth year.
MIDDLE_TRADITIONAL = {"M": "Văn", "F": "Thị"}
MIDDLE_MALE: tuple[tuple[str, float], ...] = (
    ("Đức", 8), ("Minh", 10), ("Hữu", 6), ("Quang", 7), ("Công", 5), ("Thành", 4), ("Xuân", 3), ("Ngọc", 3),
    ("Anh", 4), ("Gia", 5), ("Hoàng", 5), ("Tuấn", 3), ("Đình", 5), ("Trọng", 4), ("Quốc", 5), ("Thanh", 5),
    ("Bảo", 5), ("Nhật", 3), ("Thế", 3), ("Tiến", 2), ("Duy", 4), ("Việt", 3), ("Khánh", 2), ("Đăng", 2),
)
MIDDLE_FEMALE: tuple[tuple[str, float], ...] = (
    ("Ngọc", 10), ("Thu", 6), ("Thanh", 7), ("Minh", 5), ("Phương", 4), ("Hồng", 5), ("Kim", 5), ("Mai", 3),
    ("Bảo", 5), ("Khánh", 4), ("Diệu", 2), ("Thùy", 5), ("Hoài", 3), ("Quỳnh", 3), ("Thúy", 4), ("Bích", 3),
    ("Lan", 2), ("Hải", 2), ("Tuyết", 2), ("Mỹ", 4), ("Hà", 2), ("Gia", 3), ("Như", 3), ("Cẩm", 2),
)

# Given names (tên), roughly by popularity.
GIVEN_MALE: tuple[tuple[str, float], ...] = (
    ("Anh", 9), ("Minh", 9), ("Hùng", 7), ("Dũng", 7), ("Tuấn", 8), ("Hải", 6), ("Huy", 7), ("Nam", 6),
    ("Long", 6), ("Đức", 6), ("Thắng", 5), ("Quân", 5), ("Sơn", 5), ("Trung", 5), ("Phong", 4), ("Khoa", 4),
    ("Bình", 4), ("Cường", 5), ("Hiếu", 4), ("Hưng", 4), ("Khang", 4), ("Phúc", 4), ("Thành", 5), ("Tài", 3),
    ("Vinh", 3), ("Việt", 3), ("Toàn", 3), ("Trí", 3), ("Bảo", 4), ("Đạt", 4), ("Kiên", 3), ("Lâm", 3),
    ("Nghĩa", 3), ("Nhân", 3), ("Tùng", 3), ("Vũ", 3), ("Quang", 3), ("Lộc", 2), ("Thịnh", 2), ("Tâm", 2),
    ("Hoàng", 3), ("Khánh", 3), ("An", 4), ("Duy", 3), ("Thiện", 2), ("Tiến", 2), ("Hậu", 2), ("Tú", 2),
)
GIVEN_FEMALE: tuple[tuple[str, float], ...] = (
    ("Linh", 9), ("Anh", 8), ("Trang", 8), ("Hương", 7), ("Hà", 6), ("Lan", 6), ("Mai", 6), ("Ngọc", 6),
    ("Thảo", 6), ("Hằng", 5), ("Huyền", 5), ("Nhung", 4), ("Phương", 5), ("Thủy", 5), ("Hoa", 5), ("Hạnh", 4),
    ("Dung", 4), ("Giang", 4), ("Chi", 4), ("Nga", 4), ("Ngân", 4), ("Vân", 4), ("Yến", 4), ("Loan", 3),
    ("My", 4), ("Oanh", 3), ("Quyên", 3), ("Thu", 4), ("Tuyết", 3), ("Vy", 4), ("Hân", 3), ("Nhi", 4),
    ("Trâm", 3), ("Uyên", 3), ("Diệp", 2), ("Hường", 3), ("Liên", 3), ("Nhàn", 2), ("Thơm", 2), ("Xuân", 2),
    ("Bình", 2), ("Duyên", 3), ("Hiền", 4), ("Thắm", 2), ("Thanh", 3), ("Tâm", 3), ("Ánh", 3), ("Quỳnh", 4),
)

# Household members' relation to the head (quan hệ với chủ hộ).
HEAD, WIFE, HUSBAND, CHILD, FATHER, MOTHER = "Chủ hộ", "Vợ", "Chồng", "Con", "Bố", "Mẹ"
GRANDCHILD, DAUGHTER_IN_LAW, SON_IN_LAW = "Cháu", "Con dâu", "Con rể"

# Household sizes (1 to 7 people), shares close to the 2019 census (average about 3.5).
HOUSEHOLD_SIZES: tuple[tuple[int, float], ...] = ((1, 12), (2, 20), (3, 22), (4, 25), (5, 12), (6, 6), (7, 3))

# Population by age band (lower bound of each 5-year band, share in percent), 2024 shape.
AGE_BANDS: tuple[tuple[int, float], ...] = (
    (0, 7.0), (5, 7.9), (10, 7.6), (15, 6.8), (20, 6.9), (25, 7.6), (30, 8.2), (35, 8.0), (40, 7.5),
    (45, 6.9), (50, 6.2), (55, 5.4), (60, 4.6), (65, 3.6), (70, 2.3), (75, 1.4), (80, 0.9), (85, 0.6),
    (90, 0.3), (95, 0.1),
)

# Approximate population (millions) of the 34 provinces in force since 1 July 2025, by unit code.
PROVINCE_POPULATION: dict[str, float] = {
    "01": 8.7, "04": 0.57, "08": 1.87, "11": 0.65, "12": 0.49, "14": 1.3, "15": 1.78, "19": 1.7, "20": 0.8,
    "22": 1.4, "24": 3.6, "25": 4.0, "31": 4.7, "33": 3.6, "37": 4.4, "38": 3.8, "40": 3.5, "42": 1.3,
    "44": 1.9, "46": 1.4, "48": 3.1, "51": 2.2, "52": 3.6, "56": 2.2, "66": 3.3, "68": 3.9, "75": 4.5,
    "79": 14.0, "80": 3.3, "82": 4.4, "86": 4.3, "91": 4.9, "92": 4.2, "96": 2.6,
}
# Mountain provinces of the north, where villages are "bản".
MOUNTAIN_PROVINCES = frozenset({"04", "08", "11", "12", "14", "15", "20"})

STREETS: tuple[str, ...] = (
    "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hai Bà Trưng", "Lý Thường Kiệt", "Quang Trung", "Hùng Vương",
    "Nguyễn Trãi", "Lê Duẩn", "Điện Biên Phủ", "Phan Chu Trinh", "Bạch Đằng", "Trần Phú", "Hoàng Văn Thụ",
    "Nguyễn Văn Cừ", "Võ Thị Sáu", "Lê Thánh Tông", "Ngô Quyền", "Phan Đình Phùng", "Tôn Đức Thắng",
    "Nguyễn Du", "Lý Thái Tổ", "Trường Chinh", "Nguyễn Thị Minh Khai", "Lê Hồng Phong", "Cách Mạng Tháng Tám",
    "Phạm Văn Đồng", "Võ Văn Kiệt", "Nguyễn Chí Thanh", "Hoàng Diệu", "Trần Quang Khải", "Lạc Long Quân",
    "Âu Cơ", "Nguyễn Văn Linh", "Yersin", "Pasteur", "Bà Triệu", "Phan Bội Châu", "Lê Văn Sỹ", "Kim Mã",
)

# Mobile prefixes (after the 2018 renumbering): Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile.
MOBILE_PREFIXES: tuple[str, ...] = (
    "032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
    "081", "082", "083", "084", "085", "088", "091", "094",
    "070", "076", "077", "078", "079", "089", "090", "093",
    "052", "056", "058", "092", "059", "099",
)
