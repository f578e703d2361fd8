"""The kiosk's look: touch-sized (every control at least 64 px, primary buttons 120 px), big type readable
from a step away, calm colours. One stylesheet on the kiosk window; widgets pick a ``role`` property."""
from __future__ import annotations

BG = "#f5f1ea"
INK = "#1f1a17"
MUTED = "#6b6058"
LINE = "#d9cfc3"
ACCENT = "#1f1a17"
WARN_BG, WARN_INK = "#fff1d6", "#7a4a00"
OK_BG, OK_INK = "#e4f2e7", "#1e5b2d"

MIN_TOUCH = 64          # px: the smallest thing a finger has to hit
BUTTON_H = 104          # secondary buttons
PRIMARY_H = 128         # the one thing to do next

STYLE = f"""
QWidget#kiosk, QWidget#kioskPage {{ background: {BG}; color: {INK}; font-size: 30px; }}
QLabel {{ color: {INK}; }}
QLabel[role="title"] {{ font-size: 68px; font-weight: 700; }}
QLabel[role="subtitle"] {{ font-size: 34px; color: {MUTED}; }}
QLabel[role="body"] {{ font-size: 32px; }}
QLabel[role="small"] {{ font-size: 26px; color: {MUTED}; }}
QLabel[role="step"] {{ font-size: 26px; font-weight: 600; color: {MUTED}; letter-spacing: 2px; }}
QLabel[role="message"] {{ font-size: 32px; background: {WARN_BG}; color: {WARN_INK}; border-radius: 20px;
                          padding: 24px 32px; }}
QLabel[role="message"][kind="info"] {{ background: {OK_BG}; color: {OK_INK}; }}
QLabel[role="panel"] {{ background: white; border: 2px solid {LINE}; border-radius: 28px; padding: 32px;
                        font-size: 34px; }}
QLabel[role="dots"] {{ font-size: 80px; letter-spacing: 18px; min-height: 120px; }}
QLabel#picture {{ background: white; border: 2px solid {LINE}; border-radius: 28px; color: {MUTED};
                  font-size: 32px; padding: 14px; }}
QPushButton {{ min-height: {BUTTON_H}px; min-width: {MIN_TOUCH}px; font-size: 36px; font-weight: 600;
               border-radius: 28px; padding: 0 40px; background: white; color: {INK};
               border: 3px solid {LINE}; }}
QPushButton:pressed {{ background: #ece3d8; }}
QPushButton:disabled {{ color: #b4aaa0; border-color: #e6ded4; }}
QPushButton[role="primary"] {{ min-height: {PRIMARY_H}px; font-size: 42px; background: {ACCENT}; color: white;
                               border: none; }}
QPushButton[role="primary"]:pressed {{ background: #4a403a; }}
QPushButton[role="primary"]:disabled {{ background: #b9b0a7; color: #f1ece6; }}
QPushButton[role="quiet"] {{ background: transparent; border: none; color: {MUTED}; font-size: 30px;
                             font-weight: 500; min-height: {MIN_TOUCH + 8}px; }}
QPushButton[role="compact"] {{ font-size: 32px; padding: 0 12px; }}
QPushButton[role="key"] {{ min-height: 128px; min-width: 200px; font-size: 54px; }}
QToolButton {{ background: white; border: 3px solid {LINE}; border-radius: 28px; padding: 16px; font-size: 30px;
               font-weight: 600; color: {INK}; min-height: {MIN_TOUCH}px; }}
QToolButton:pressed {{ background: #ece3d8; }}
QToolButton:checked {{ border: 5px solid {ACCENT}; }}
QProgressBar {{ min-height: 40px; max-height: 40px; border-radius: 20px; background: #e7ded3; border: none;
                color: transparent; }}
QProgressBar::chunk {{ border-radius: 20px; background: {ACCENT}; }}
QLineEdit, QSpinBox {{ min-height: {MIN_TOUCH + 16}px; font-size: 30px; border: 2px solid {LINE};
                       border-radius: 16px; padding: 0 16px; background: white; }}
QCheckBox {{ font-size: 30px; min-height: {MIN_TOUCH}px; }}
QCheckBox::indicator {{ width: 48px; height: 48px; }}
QScrollArea {{ background: transparent; border: none; }}
QScrollArea > QWidget > QWidget {{ background: transparent; }}
QScrollBar:vertical {{ width: 16px; background: transparent; }}
QScrollBar::handle:vertical {{ background: {LINE}; border-radius: 8px; min-height: 80px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; }}
QFrame#idleOverlay {{ background: rgba(31, 26, 23, 200); }}
QFrame#idleCard {{ background: white; border-radius: 36px; }}
"""
