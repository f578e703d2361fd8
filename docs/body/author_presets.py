"""Authoring script for resources/poses/*.json: readable joint recipes composed into axis-angle.

The JSON files are the source of truth; this shows how they were made and can regenerate them
(python docs/body/author_presets.py).
"""
import json
import numpy as np
from scipy.spatial.transform import Rotation as Rot
from pathlib import Path
OUT = Path(__file__).resolve().parents[2] / 'resources' / 'poses'
def R(*seq):
    """seq of (axis, angle) applied in order (first applied first), world/parent axes."""
    M=np.eye(3)
    for ax,a in seq:
        M=Rot.from_euler(ax,a).as_matrix()@M
    return M
def aa(M): return [round(float(x),4) for x in Rot.from_matrix(M).as_rotvec()]
def mir(M):
    F=np.diag([-1,1,1.]); return F@M@F
def arm(side, down, swing=0.0, twist=0.0, elbow=0.0, elbow_twist=0.0):
    """Left-arm recipe: twist about the arm axis, lower by `down` (rad below horizontal),
    swing forward (+) about x; elbow flexion forward. Right = mirror."""
    sh=R(('x',twist),('z',-down),('x',-swing))
    el=R(('x',elbow_twist),('y',-elbow))
    if side=='right': sh,el=mir(sh),mir(el)
    return {f'{side}_shoulder':aa(sh), f'{side}_elbow':aa(el)}
def leg(side, flex=0.0, knee=0.0, abduct=0.0, twist=0.0, ankle=0.0):
    hip=R(('y',twist),('z',abduct),('x',-flex))
    k=R(('x',knee)); an=R(('x',ankle))
    if side=='right': hip,k,an=mir(hip),mir(k),mir(an)
    return {f'{side}_hip':aa(hip), f'{side}_knee':aa(k), f'{side}_ankle':aa(an)}
def hand(side, curl=0.3, thumb=0.2):
    d={}
    for f in ('index','middle','ring','pinky'):
        extra={'index':0.85,'middle':1.0,'ring':1.1,'pinky':1.2}[f]
        for i in (1,2,3):
            M=R(('z',-curl*extra*(1.0+0.2*(i-1))))
            if side=='right': M=mir(M)
            d[f'{f}{i}']=aa(M)
    for i in (1,2,3):
        M=R(('y',-thumb*0.5),('z',-thumb*0.6))
        if side=='right': M=mir(M)
        d[f'thumb{i}']=aa(M)
    return d
def sp(name, **axes):
    return {name: aa(R(*[(k,v) for k,v in axes.items()]))}
def mk(name, desc, body, go=None, lh=None, rh=None, transl=None):
    d={'name':name,'description':desc}
    if go is not None: d['global_orient']=aa(go)
    d['body_pose']=body
    d['left_hand_pose']=lh if lh is not None else hand('left')
    d['right_hand_pose']=rh if rh is not None else hand('right')
    if transl is not None: d['transl']=transl
    (OUT/f'{name}.json').write_text(json.dumps(d,indent=1))
A=1.15
apose={**arm('left',A,0.05,0,0.2),**arm('right',A,0.05,0,0.2)}
mk('a_pose','Relaxed A-pose: arms ~65 deg down, soft elbows.',apose)
mk('t_pose','T-pose (SMPL-X rest), fingers slightly relaxed.',{},lh=hand('left',0.1,0.05),rh=hand('right',0.1,0.05))
mk('back_view','A-pose seen from behind (body turned 180 deg).',apose,go=R(('y',np.pi)))
walk={**leg('left',0.45,0.15,0.02,ankle=-0.1),**leg('right',-0.3,0.45,0.02,ankle=0.25),
      **arm('left',1.3,-0.35,0,0.25),**arm('right',1.3,0.4,0,0.45),
      **sp('spine1',y=-0.06),**sp('spine3',y=-0.08),**sp('head',y=0.1)}
mk('walking','Mid-stride walk: left leg forward, arms swinging opposite.',walk)
run={**leg('left',1.0,0.75,0.03,ankle=-0.2),**leg('right',-0.35,1.35,0.03,ankle=0.4),
     **arm('left',1.3,-0.6,0.0,1.5),**arm('right',1.25,0.7,0.0,1.3),
     **sp('spine1',x=0.12,y=-0.1),**sp('spine3',y=-0.1),**sp('neck',x=-0.12)}
mk('running','Running stride, torso leaning forward, elbows at ~90 deg.',run,lh=hand('left',0.9,0.5),rh=hand('right',0.9,0.5))
hips={**arm('left',0.95,-0.25,1.25,1.9),**arm('right',0.95,-0.25,1.25,1.9),**leg('left',0,0,0.08),**leg('right',0,0,0.08)}
mk('hands_on_hips','Hands on hips, elbows out, feet apart.',hips,lh=hand('left',0.15,0.3),rh=hand('right',0.15,0.3))
cross={**arm('left',1.3,0.85,0.95,1.95),**arm('right',1.3,0.78,0.95,2.0),**sp('spine3',x=0.05)}
mk('arms_crossed','Arms folded across the chest.',cross,lh=hand('left',0.5,0.3),rh=hand('right',0.5,0.3))
contra={**leg('left',0.12,0.35,0.0,ankle=0.15),**leg('right',0,0,0.05),**sp('spine1',z=-0.08),**sp('spine2',z=-0.04),
        **sp('neck',z=0.05),**sp('head',z=0.08,y=0.15),**arm('left',1.25,0.05,0,0.3),**arm('right',1.2,0.0,0,0.15)}
mk('contrapposto','Weight on the right leg, hips tilted, shoulders counter-tilted, head turned.',contra,go=R(('z',0.07),('y',-0.15)))
pocket={**arm('left',1.3,-0.15,0.6,1.0),**arm('right',1.2,0.05,0,0.25),**leg('left',0.05,0.15,0.0),**sp('head',y=-0.1)}
mk('hand_in_pocket','Left hand in the front trouser pocket, right arm relaxed.',pocket,lh=hand('left',0.9,0.8))
look={**sp('spine1',y=0.12),**sp('spine2',y=0.12),**sp('spine3',y=0.15),**sp('neck',y=0.5),**sp('head',y=0.7,z=0.1,x=0.1),
      **arm('left',1.2,-0.1,0,0.3),**arm('right',1.2,0.1,0,0.3),**leg('right',0.08,0.25)}
mk('over_the_shoulder_look','Back to the viewer, looking over the left shoulder.',look,go=R(('y',-2.75)))
sit={**leg('left',1.55,1.55,0.1,ankle=0.05),**leg('right',1.5,1.5,0.06,ankle=0.05),
     **arm('left',1.25,0.75,0,0.55),**arm('right',1.25,0.75,0,0.55),**sp('spine1',x=0.08),**sp('neck',x=-0.05)}
mk('sitting','Seated on an (invisible) chair, hands resting on the thighs.',sit)
wave={**arm('right',0.35,0.2,-1.45,1.75),**arm('left',1.2,0.05,0,0.25),**sp('head',z=-0.08,y=-0.1),**sp('spine2',z=0.05)}
mk('waving','Waving with the right hand raised.',wave,rh=hand('right',0.05,0.0))
print('ok')
