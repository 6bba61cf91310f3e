from __future__ import annotations

from ragserve.ingest.chunkers import resume
from ragserve.ingest.chunkers.resume import find_phone, section_key
from unit.chunkers.support import count_tokens, doc, heading, options, text

ENGLISH = [
    heading("Jane Doe", 1),
    text("Data engineer\njane.doe@example.com | +1 (555) 123-4567"),
    heading("Education", 2),
    text("MSc Computer Science, Oslo, 2015 - 2017"),
    heading("Work Experience", 2),
    text("Acme Corp, 2017.09 - 2021.06\nBuilt pipelines."),
    text("SKILLS"),
    text("Python, SQL"),
    heading("Projects", 2),
    text("Open source ETL tool."),
    heading("Awards", 2),
    text("Best paper 2019."),
]


def test_fields_are_found_in_an_english_resume() -> None:
    summary = resume.chunk(doc(*ENGLISH), options(), count_tokens)[0]
    assert summary.fields == {
        "name": "Jane Doe",
        "email": "jane.doe@example.com",
        "phone": "+1 (555) 123-4567",
        "education": "MSc Computer Science, Oslo, 2015 - 2017",
        "experience": "Acme Corp, 2017.09 - 2021.06\nBuilt pipelines.",
        "skills": "Python, SQL",
        "projects": "Open source ETL tool.",
    }
    assert summary.content == (
        "Name: Jane Doe\nEmail: jane.doe@example.com\nPhone: +1 (555) 123-4567\n"
        "Education: MSc Computer Science, Oslo, 2015 - 2017\n"
        "Experience: Acme Corp, 2017.09 - 2021.06; Built pipelines.\n"
        "Skills: Python, SQL\nProjects: Open source ETL tool."
    )


def test_one_chunk_per_section_after_the_summary() -> None:
    found = resume.chunk(doc(*ENGLISH), options(), count_tokens)[1:]
    assert [(c.content, c.fields) for c in found] == [
        ("Jane Doe > Profile\nData engineer", {"section": "profile", "name": "Jane Doe"}),
        (
            "Jane Doe > Education\nMSc Computer Science, Oslo, 2015 - 2017",
            {"section": "education", "name": "Jane Doe"},
        ),
        (
            "Jane Doe > Work Experience\nAcme Corp, 2017.09 - 2021.06\nBuilt pipelines.",
            {"section": "experience", "name": "Jane Doe"},
        ),
        ("Jane Doe > SKILLS\nPython, SQL", {"section": "skills", "name": "Jane Doe"}),
        ("Jane Doe > Projects\nOpen source ETL tool.", {"section": "projects", "name": "Jane Doe"}),
        ("Jane Doe > Awards\nBest paper 2019.", {"section": "Awards", "name": "Jane Doe"}),
    ]


def test_a_chinese_resume_without_headings() -> None:
    blocks = [
        text("张三\n电话：138 0013 8000\n邮箱：zhangsan@example.cn"),
        text("教育经历\n北京大学 计算机 2010-2014"),
        text("项目经历\n搜索引擎。"),
        text("工作经历\n腾讯 工程师"),
        text("专业技能\nJava"),
    ]
    found = resume.chunk(doc(*blocks), options(), count_tokens)
    assert found[0].fields == {
        "name": "张三",
        "email": "zhangsan@example.cn",
        "phone": "138 0013 8000",
        "education": "北京大学 计算机 2010-2014",
        "experience": "腾讯 工程师",
        "skills": "Java",
        "projects": "搜索引擎。",
    }
    assert [c.content for c in found[1:]] == [
        "张三 > 教育经历\n北京大学 计算机 2010-2014",
        "张三 > 项目经历\n搜索引擎。",
        "张三 > 工作经历\n腾讯 工程师",
        "张三 > 专业技能\nJava",
    ]


def test_section_titles_and_phone_numbers() -> None:
    assert [section_key(t) for t in ("EDUCATION", "项目经历", "Technical Skills", "Hobbies")] == [
        "education",
        "projects",
        "skills",
        None,
    ]
    assert find_phone("2015 - 2019, 2017.09 - 2021.06") == ""
    assert find_phone("worked 2015 - 2019; call 555-1234") == "555-1234"


def test_long_sections_are_split_within_the_budget() -> None:
    blocks = [heading("Al"), heading("Skills", 2), text("a b c d e f g h")]
    found = resume.chunk(doc(*blocks), options(6), count_tokens)
    assert [c.content for c in found] == [
        "Name: Al\nSkills: a b c",  # the summary is cut to the budget
        "Al > Skills\na b c",
        "Al > Skills\nd e f",
        "Al > Skills\ng h",
    ]
    assert found[0].fields["skills"] == "a b c d e f g h"
